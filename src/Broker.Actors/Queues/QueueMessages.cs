using Akka.Actor;
using Broker.Protocol;

namespace Broker.Actors.Queues;

// Commands to a QueueActor. Channels send them to the queue's actor directly once they know it
// (QueueDirectory); declares go through the shard region, which creates the entity.

/// <summary>queue.declare: create the queue, or check an existing one (passive or equivalent).</summary>
public sealed record DeclareQueue(QueueDefinition Definition, bool Passive, string ConnectionId, IActorRef Connection) : Cluster.IClusterMessage;

public sealed record QueueDeclareResult(string Name, uint MessageCount, uint ConsumerCount) : Cluster.IClusterMessage;

/// <summary>A message routed to this queue. A non-zero ConfirmId asks for Enqueued/EnqueueFailed back.</summary>
public sealed record Publish(Message Message, long ConfirmId) : Cluster.IClusterMessage;

public sealed record Enqueued(IActorRef Queue, long ConfirmId) : Cluster.IClusterMessage;

public sealed record EnqueueFailed(IActorRef Queue, long ConfirmId, string Reason) : Cluster.IClusterMessage;

/// <summary>
/// basic.consume on this queue. Prefetch 0 means no per-consumer limit. Window caps deliveries not
/// yet written to the socket: a channel with a channel-wide prefetch asks for no more than that,
/// so the channel does not hold back messages other consumers of the queue could take.
/// Priority is the consumer's x-priority argument.
/// </summary>
public sealed record AddConsumer(string Tag, bool NoAck, bool Exclusive, ushort Prefetch, string ConnectionId, int Window, int Priority = 0)
    : Cluster.IClusterMessage;

public sealed record ConsumerAdded(string Tag) : Cluster.IClusterMessage;

public sealed record RemoveConsumer(string Tag) : Cluster.IClusterMessage;

public sealed record ConsumerRemoved(string Tag) : Cluster.IClusterMessage;

/// <summary>basic.qos global=false after basic.consume: the consumer's prefetch changes (0 = no limit).</summary>
public sealed record ConsumerPrefetch(string Tag, ushort Prefetch) : Cluster.IClusterMessage;

/// <summary>basic.get: take one message, if there is one.</summary>
public sealed record GetMessage(bool NoAck, string ConnectionId) : Cluster.IClusterMessage;

/// <summary>The answer to basic.get; Message is null when the queue is empty.</summary>
public sealed record GetResult(string Queue, QueuedMessage? Message, uint Remaining) : Cluster.IClusterMessage;

public enum Settlement
{
    /// <summary>basic.ack: the message is done.</summary>
    Ack,

    /// <summary>nack/reject with requeue: back to the queue, marked redelivered.</summary>
    Requeue,

    /// <summary>nack/reject without requeue: dead-lettered, or dropped when the queue has no dead-letter exchange.</summary>
    Discard,
}

/// <summary>Acks, nacks and rejects of messages this queue delivered to the sending channel.</summary>
public sealed record Settle(long[] MessageIds, Settlement Outcome) : Cluster.IClusterMessage;

/// <summary>A channel closed: its consumers go and its unacked messages return, redelivered.</summary>
public sealed record ChannelGone(IActorRef Channel) : Cluster.IClusterMessage;

public sealed record PurgeQueue(string ConnectionId) : Cluster.IClusterMessage;

public sealed record QueuePurged(uint MessageCount) : Cluster.IClusterMessage;

public sealed record DeleteQueue(bool IfUnused, bool IfEmpty, string ConnectionId) : Cluster.IClusterMessage
{
    /// <summary>The connection id of the broker itself (deleting a vhost): exclusive queues do not refuse it.</summary>
    public const string ByBroker = "\0broker";
}

public sealed record QueueDeleted(uint MessageCount) : Cluster.IClusterMessage;

/// <summary>Start-up: recover (the entity exists once this is answered) and report whether the queue exists.</summary>
public sealed class WakeEntity : Cluster.IClusterMessage
{
    public static readonly WakeEntity Instance = new();
}

public sealed record EntityAwake(bool Exists) : Cluster.IClusterMessage;

/// <summary>Shutdown: write what is batched (acks above all) and answer when the journal has it.</summary>
public sealed class FlushJournal : Cluster.IClusterMessage
{
    public static readonly FlushJournal Instance = new();
}

public sealed class JournalFlushed : Cluster.IClusterMessage
{
    public static readonly JournalFlushed Instance = new();
}

/// <summary>A command the queue refused, with the AMQP error to close the channel with.</summary>
public sealed record QueueCommandFailed(AmqpException Error) : Cluster.IClusterMessage;

// Messages from a QueueActor to a channel.

/// <summary>A message for one of the channel's consumers.</summary>
public sealed record Deliver(string Queue, IActorRef QueueRef, string ConsumerTag, QueuedMessage Message, bool NoAck) : Cluster.IClusterMessage;

/// <summary>The queue went away under a consumer (queue deleted): the client gets basic.cancel.</summary>
public sealed record ConsumerCancelled(string Queue, string ConsumerTag) : Cluster.IClusterMessage;

// Flow control (RabbitMQ's credit flow, simplified).

/// <summary>
/// Queue -> publishing channel: the queue has granted this channel room for Granted publishes in
/// all (cumulative: the channel may have InitialPublishCredit + Granted sent in all), handed out as
/// it works through them. Keeps a queue's mailbox bounded; a lost grant is made good by the next.
/// Received is how many of the channel's publishes reached the queue in all: a channel blocked on
/// the queue learns from two equal answers that the rest were lost on the way (see
/// ChannelActor.OnPublishCredit).
/// </summary>
public sealed record PublishCredit(IActorRef Queue, long Granted, long Received) : Cluster.IClusterMessage;

/// <summary>
/// Channel -> queue, while the channel is out of credit there: "how much have you granted me?".
/// Credit is cumulative, so the answer (a PublishCredit) makes good any grant lost on the way
/// (Akka.Remote is at-most-once) and a blocked channel never hangs.
/// </summary>
public sealed class PublishCreditProbe : Cluster.IClusterMessage
{
    public static readonly PublishCreditProbe Instance = new();

    private PublishCreditProbe()
    {
    }
}

/// <summary>
/// Channel -> queue: Written deliveries to the consumer were handed to the socket in all
/// (cumulative), so the queue may have DeliveryWindow more than that outstanding. A slow reader
/// therefore holds deliveries in the queue; a lost message is made good by the next (channels
/// also repeat it every few seconds).
/// </summary>
public sealed record DeliveryCredit(string ConsumerTag, long Written) : Cluster.IClusterMessage;
