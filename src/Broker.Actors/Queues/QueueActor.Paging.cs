using Akka.Event;

namespace Broker.Actors.Queues;

/// <summary>
/// Bounded memory for deep queues: once a queue's ready messages in memory cost more than its
/// budget (BrokerSettings.QueueMemoryBudget), further messages go whole to its paged tail on disk
/// (PagedTail, a PageFile in the node's data directory) and are read back a batch at a time when
/// the messages in memory have been taken (ReadyMessages). Persistent messages are paged like
/// transient ones: the page file is a node-local cache without fsync, cheaper to read than the
/// journal; after a restart a queue recovers them from the journal and pages them out again.
/// Priority queues keep everything in memory (their head is not the oldest message; ReadyMessages
/// decides), as do delayed-message queues, whose messages wait outside the ready list.
/// </summary>
public sealed partial class QueueActor
{
    private PagedTail? _pagedTail;

    /// <summary>A paged tail for a new state (its folder is made only when a message is paged); null without a budget.</summary>
    private PagedTail? NewPagedTail()
    {
        DisposePages();
        if (_broker.Settings.QueueMemoryBudget <= 0)
        {
            return null;
        }

        _pagedTail = new PagedTail(Path.Combine(_broker.PagesDirectory, Guid.NewGuid().ToString("N")), reason =>
            _log.Warning("queue '{0}' in vhost '{1}': cannot write to its page file ({2}); keeping messages in memory", _name, _vhost, reason));
        return _pagedTail;
    }

    /// <summary>The queue is gone (deleted, stopped, moved): its page file goes with it.</summary>
    private void DisposePages()
    {
        _pagedTail?.Dispose();
        _pagedTail = null;
    }
}
