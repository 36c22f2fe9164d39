namespace Broker.Actors.Queues;

/// <summary>Why a message was dead-lettered: the reason x-death records, as RabbitMQ spells it.</summary>
public enum DeathReason
{
    Rejected,
    Expired,
    MaxLength,
    DeliveryLimit,
}

/// <summary>
/// What a QueueState decided and its owner must carry out (journal, send, set a timer). The state
/// calls these synchronously while it handles a command, in the order they must happen; it never
/// does I/O itself, so tests drive it with a recording implementation.
/// </summary>
internal interface IQueueEffects<TChannel> where TChannel : class
{
    /// <summary>A message entered the queue (a persistent one in a durable queue is journaled before it is confirmed).</summary>
    void Accepted(QueuedMessage message);

    /// <summary>Hand the message to the consumer's channel.</summary>
    void Deliver(Consumer<TChannel> consumer, QueuedMessage message);

    /// <summary>The message left the queue for good: acked, delivered with no-ack, purged, or dropped with no dead-letter exchange.</summary>
    void Removed(QueuedMessage message);

    /// <summary>
    /// The message left the queue to be dead-lettered. It stays in the journal until its dead-letter
    /// target has it. A message refused by reject-publish-dlx never entered the queue: its id is 0.
    /// </summary>
    void DeadLettered(QueuedMessage message, DeathReason reason);

    /// <summary>
    /// A delayed message fell due: route it through its delayed-message exchange. Like a
    /// dead-letter, it leaves the journal once the queues it was routed to have it.
    /// </summary>
    void Due(QueuedMessage message);

    /// <summary>The next delivery is of this id, which no written watermark covers yet (see DeliveryWatermark).</summary>
    void WatermarkNeeded(long id);

    /// <summary>Call QueueState.Expire at this time (Unix ms) or soon after.</summary>
    void ExpiryDue(long at);
}
