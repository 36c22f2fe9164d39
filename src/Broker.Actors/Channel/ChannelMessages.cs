using Akka.Actor;
using Broker.Protocol;

namespace Broker.Actors.Channel;

/// <summary>A channel-level protocol error found by the frame decoder (e.g. a message over the size limit).</summary>
public sealed record ChannelProtocolError(AmqpException Error) : INoSerializationVerificationNeeded;

/// <summary>A client command for this channel, from its connection (local only: connections and channels never move).</summary>
public sealed record ChannelCommand(Command Command) : INoSerializationVerificationNeeded;

/// <summary>Self-message: flush what this channel batched (frames, settlements, confirms).</summary>
internal sealed class Flush : INoSerializationVerificationNeeded
{
    public static readonly Flush Instance = new();
}

/// <summary>Self-message: nack publishes whose queues never answered (see ChannelActor.OnConfirmCheck).</summary>
internal sealed class ConfirmCheck : INoSerializationVerificationNeeded
{
    public static readonly ConfirmCheck Instance = new();
}

/// <summary>Self-message: a blocked channel asks its queues for their grants.</summary>
internal sealed class CreditProbeTick : INoSerializationVerificationNeeded
{
    public static readonly CreditProbeTick Instance = new();
}

/// <summary>Self-message: repeat the delivery credit totals (a lost DeliveryCredit must not stall a consumer).</summary>
internal sealed class DeliveryCreditTick : INoSerializationVerificationNeeded
{
    public static readonly DeliveryCreditTick Instance = new();
}

/// <summary>Self-message: a queue or exchange did not answer a request in time.</summary>
internal sealed class ReplyTimeout : INoSerializationVerificationNeeded
{
    public static readonly ReplyTimeout Instance = new();
}

/// <summary>Self-message: every publish of a tx.commit was enqueued.</summary>
internal sealed class TxCommitted : INoSerializationVerificationNeeded
{
    public static readonly TxCommitted Instance = new();
}
