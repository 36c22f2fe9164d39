using Broker.Actors.Persistence;

namespace Broker.Actors.Queues;

// Journal events of a durable queue. Only persistent messages of durable queues reach the
// journal; transient messages never do. Arguments stay in their AMQP table encoding.

/// <summary>The queue was declared (also re-written by compaction, with the counters it needs).</summary>
public sealed record QueueCreated(string VHost, string Name, bool AutoDelete, byte[] Arguments, long NextId, long DeliveredUpTo)
    : IJournalEvent;

/// <summary>A batch of persistent messages entered the queue, in order (one journal row for many messages).</summary>
public sealed record MessagesEnqueued(IReadOnlyList<StoredMessage> Messages) : IJournalEvent;

/// <summary>Messages left the queue: acked, rejected without requeue, or purged.</summary>
public sealed record MessagesRemoved(long[] Ids) : IJournalEvent;

/// <summary>
/// No message above this id has been delivered. Written ahead of deliveries, so that after a
/// crash every message that may have been delivered comes back with redelivered=true.
/// </summary>
public sealed record DeliveryWatermark(long UpTo) : IJournalEvent;

public sealed record QueueRemoved(string Name) : IJournalEvent;

/// <summary>A message as journaled: its id in the queue, what a delivery needs, and when it expires (Unix ms, 0: never).</summary>
public sealed record StoredMessage(long Id, string Exchange, string RoutingKey, byte[] RawProperties, byte[] Body, long ExpiresAt = 0);
