namespace Broker.Actors.Queues;

/// <summary>
/// Where a queue's ready messages go while it holds more than its memory budget (ReadyMessages
/// decides when): the newest messages, kept in publish order out of memory and read back oldest
/// first, a batch at a time. QueueActor keeps them in a PageFile; QueueState's tests in memory.
/// </summary>
public interface IPagedTail
{
    /// <summary>Keeps the message out of memory; false if it cannot (a full or failing disk): it stays in memory.</summary>
    bool TryAppend(QueuedMessage message);

    /// <summary>Reads back the oldest paged messages, about <paramref name="maxBytes"/> of them (at least one), in order.</summary>
    void ReadNext(long maxBytes, List<QueuedMessage> into);

    /// <summary>Forgets every paged message (the queue dropped them all).</summary>
    void Clear();
}
