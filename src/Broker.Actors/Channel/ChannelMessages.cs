using Broker.Protocol;

namespace Broker.Actors.Channel;

/// <summary>A channel-level protocol error found by the frame decoder (e.g. a message over the size limit).</summary>
public sealed record ChannelProtocolError(AmqpException Error);

/// <summary>Self-message: flush what this channel batched (frames, settlements, confirms).</summary>
internal sealed class Flush
{
    public static readonly Flush Instance = new();
}

/// <summary>Self-message: a queue or exchange did not answer a request in time.</summary>
internal sealed class ReplyTimeout
{
    public static readonly ReplyTimeout Instance = new();
}

/// <summary>Self-message: every publish of a tx.commit was enqueued.</summary>
internal sealed class TxCommitted
{
    public static readonly TxCommitted Instance = new();
}
