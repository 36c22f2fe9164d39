using Akka.Actor;
using Broker.Protocol;

namespace Broker.Actors.Channel;

/// <summary>A channel-level protocol error found by the frame decoder (e.g. a message over the size limit).</summary>
public sealed record ChannelProtocolError(AmqpException Error) : INoSerializationVerificationNeeded;

/// <summary>
/// Client commands for this channel, in order: all those one socket read brought for it in a row
/// (one message per read, not per frame). Local only: connections and channels never move.
/// </summary>
public sealed record ChannelCommands(IReadOnlyList<Command> Commands) : INoSerializationVerificationNeeded
{
    public static ChannelCommands Of(Command command) => new(new[] { command });
}

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

/// <summary>Self-message: is the oldest unacknowledged delivery older than the consumer timeout?</summary>
internal sealed class ConsumerTimeoutCheck : INoSerializationVerificationNeeded
{
    public static readonly ConsumerTimeoutCheck Instance = new();
}
