namespace Broker.Protocol;

/// <summary>What the frame decoder yields: whole commands, heartbeats and protocol errors.</summary>
public abstract class InboundEvent
{
}

/// <summary>The client sent the 8-byte protocol header; Accepted is false for any other protocol or version.</summary>
public sealed class ProtocolHeaderReceived : InboundEvent
{
    public static readonly ProtocolHeaderReceived Accepted = new(true);
    public static readonly ProtocolHeaderReceived Rejected = new(false);

    private ProtocolHeaderReceived(bool accepted) => IsAccepted = accepted;

    public bool IsAccepted { get; }
}

public sealed class HeartbeatReceived : InboundEvent
{
    public static readonly HeartbeatReceived Instance = new();
}

/// <summary>
/// A method with, for content-bearing methods, its header and its body reassembled from body
/// frames into one buffer.
/// </summary>
public sealed class Command : InboundEvent
{
    public Command(ushort channel, Method method, ContentHeader? header = null, byte[]? body = null)
    {
        Channel = channel;
        Method = method;
        Header = header;
        Body = body ?? Array.Empty<byte>();
    }

    public ushort Channel { get; }
    public Method Method { get; }
    public ContentHeader? Header { get; }
    public byte[] Body { get; }

    public override string ToString() => $"{Method.Name} on channel {Channel}";
}

/// <summary>
/// Input that broke the protocol. Connection errors (hard codes) stop the decoder; a channel error
/// (e.g. a message over the size limit) affects only its channel.
/// </summary>
public sealed class ProtocolError : InboundEvent
{
    public ProtocolError(ushort channel, AmqpException error)
    {
        Channel = channel;
        Error = error;
    }

    public ushort Channel { get; }
    public AmqpException Error { get; }

    public override string ToString() => $"protocol error on channel {Channel}: {Error.ReplyText}";
}
