namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>How the broker ended (or answered) one fuzzed connection.</summary>
public enum OutcomeKind
{
    /// <summary>connection.close with a reply code (the first thing of note the broker sent).</summary>
    ConnectionClose,

    /// <summary>channel.close with a reply code; the connection itself went on.</summary>
    ChannelClose,

    /// <summary>No error: the session's own connection.close was answered with close-ok.</summary>
    CloseOk,

    /// <summary>The broker wrote its protocol header and closed the socket (a client of another protocol).</summary>
    HeaderReply,

    /// <summary>The broker closed the socket without a word (as RabbitMQ does for some handshake errors).</summary>
    Dropped,

    /// <summary>The fuzzer itself disconnected mid-session; there is nothing to observe on that socket.</summary>
    HungUp,

    /// <summary>The connection did not end within the bound: always a failure.</summary>
    Hung,
}

public sealed record Outcome(OutcomeKind Kind, ushort Code = 0, ushort Channel = 0, string Text = "")
{
    public override string ToString() => Kind switch
    {
        OutcomeKind.ConnectionClose => $"connection.close {Code} '{Text}'",
        OutcomeKind.ChannelClose => $"channel.close {Code} on channel {Channel} '{Text}'",
        _ => Kind.ToString() + (Text.Length > 0 ? $" ({Text})" : string.Empty),
    };
}
