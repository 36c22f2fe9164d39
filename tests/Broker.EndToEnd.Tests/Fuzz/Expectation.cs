using Broker.Protocol;

namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>
/// The outcomes a fuzz case accepts. Targeted faults name the exact reply code RabbitMQ gives;
/// random mutations accept any orderly end. None accepts a hang, 541 INTERNAL_ERROR (the broker
/// failing on input it should have judged) or 320 (only a node shutting down sends it).
/// </summary>
public sealed class Expectation
{
    /// <summary>Connection-level codes a random mutation may earn: RabbitMQ's hard errors a client can cause.</summary>
    private static readonly ushort[] HardCodes =
    {
        ReplyCode.AccessRefused, ReplyCode.FrameError, ReplyCode.SyntaxError, ReplyCode.CommandInvalid,
        ReplyCode.ChannelError, ReplyCode.UnexpectedFrame, ReplyCode.ResourceError, ReplyCode.NotAllowed,
        ReplyCode.NotImplemented,
    };

    /// <summary>Channel-level codes a random mutation may earn (a mutated name or argument).</summary>
    private static readonly ushort[] SoftCodes =
    {
        ReplyCode.AccessRefused, ReplyCode.NotFound, ReplyCode.ResourceLocked, ReplyCode.PreconditionFailed,
    };

    private readonly Func<Outcome, bool> _accepts;

    private Expectation(string description, Func<Outcome, bool> accepts)
    {
        Description = description;
        _accepts = accepts;
    }

    public string Description { get; }

    public bool Accepts(Outcome outcome) => _accepts(outcome);

    /// <summary>connection.close with one of the codes (then the socket closes).</summary>
    public static Expectation ConnectionClose(params ushort[] codes) =>
        new($"connection.close {string.Join(" or ", codes)}", o => o.Kind == OutcomeKind.ConnectionClose && codes.Contains(o.Code));

    /// <summary>channel.close with the code on the channel; the connection stays usable.</summary>
    public static Expectation ChannelClose(ushort code, ushort channel) =>
        new($"channel.close {code} on channel {channel}",
            o => o.Kind == OutcomeKind.ChannelClose && o.Code == code && o.Channel == channel);

    /// <summary>
    /// An error during the handshake: RabbitMQ closes the socket without a word (after a delay) for
    /// most of them; the broker may instead send connection.close with the code. Either is orderly.
    /// </summary>
    public static Expectation HandshakeError(params ushort[] codes) =>
        new($"connection.close {string.Join(" or ", codes)}, or a dropped socket",
            o => o.Kind == OutcomeKind.Dropped || (o.Kind == OutcomeKind.ConnectionClose && codes.Contains(o.Code)));

    /// <summary>The session was valid: its connection.close got close-ok and nothing failed before it.</summary>
    public static Expectation Accepted() => new("close-ok and no error", o => o.Kind == OutcomeKind.CloseOk);

    /// <summary>A client of another protocol: the broker's protocol header, then the socket closes.</summary>
    public static Expectation HeaderReply() => new("the protocol header back, then a closed socket", o => o.Kind == OutcomeKind.HeaderReply);

    /// <summary>The fuzzer disconnects mid-session: the check is that the node copes (no crash, no leak).</summary>
    public static Expectation HangUp() => new("the fuzzer hangs up", o => o.Kind == OutcomeKind.HungUp);

    /// <summary>Random mutation: any orderly end within the bound.</summary>
    public static Expectation AnyOrderlyEnd() => new("any orderly end", o => o.Kind switch
    {
        OutcomeKind.ConnectionClose => HardCodes.Contains(o.Code),
        OutcomeKind.ChannelClose => SoftCodes.Contains(o.Code),
        OutcomeKind.Hung => false,
        _ => true,
    });

    public override string ToString() => Description;
}
