using Akka.Event;

namespace Broker.Actors.Queues;

/// <summary>
/// Bounded memory for deep queues: once a queue's ready messages take more than its budget
/// (BrokerSettings.QueueMemoryBudget), the body of each further message goes to the queue's page
/// file (PageFile) and the queue keeps only its entry; the body is read back when the state asks
/// for it (BodyNeeded: delivery, basic.get, dead-letter). Only the tail is paged (what arrives while
/// the queue is over budget), so the head, which consumers take next, stays in memory and reads
/// go through the file in the order it was written. Persistent messages are paged like transient
/// ones: the page file is a node-local cache without fsync, cheaper to read than the journal; after
/// a restart a queue recovers its bodies from the journal and pages them out again.
/// Priority queues and delayed-message queues keep everything in memory (their head is not the
/// oldest message, so reads would not follow the file).
/// </summary>
public sealed partial class QueueActor
{
    /// <summary>What a queued message is counted as besides its body: its entry, message and properties in memory.</summary>
    public const int PagedMessageOverhead = 200;

    private PageFile? _pages;

    /// <summary>Ready messages whose bodies are in the page file, and those bodies' bytes.</summary>
    private int _pagedCount;
    private long _pagedBytes;

    /// <summary>The last write to the page file failed (logged once until one succeeds again).</summary>
    private bool _pagingFailed;

    private bool Pages => _broker.Settings.QueueMemoryBudget > 0 && _state is { Arguments: { MaxPriority: 0, DelayFor: null } };

    /// <summary>Pages the message out if the queue's ready messages in memory are over budget (and it is still ready).</summary>
    private void PageOutIfOverBudget(QueuedMessage m)
    {
        if (!Pages || m.Message.IsPagedOut)
        {
            return;
        }

        long inMemory = _state!.ReadyBytes - _pagedBytes + (long)(_state.ReadyCount - _pagedCount) * PagedMessageOverhead;
        if (inMemory <= _broker.Settings.QueueMemoryBudget || !_state.IsReady(m.Id))
        {
            return;
        }

        try
        {
            _pages ??= new PageFile(Path.Combine(_broker.PagesDirectory, Guid.NewGuid().ToString("N")));
            m.PageRef = _pages.Append(m.Message.Body);
        }
        catch (IOException e)
        {
            // A full or failing disk: the message stays in memory (the disk alarm blocks publishers soon).
            if (!_pagingFailed)
            {
                _log.Warning("queue '{0}' in vhost '{1}': cannot write to its page file ({2}); keeping messages in memory", _name, _vhost, e.Message);
            }

            _pagingFailed = true;
            return;
        }

        _pagingFailed = false;
        m.Message = m.Message.PagedOut();
        _pagedCount++;
        _pagedBytes += m.Size;
    }

    /// <summary>BodyNeeded: a paged-out body is read back (the message is about to leave the ready list).</summary>
    void IQueueEffects<Akka.Actor.IActorRef>.BodyNeeded(QueuedMessage m)
    {
        if (!m.Message.IsPagedOut)
        {
            return;
        }

        m.Message = m.Message.WithBody(_pages!.Take(m.PageRef, m.Message.BodySize));
        Unpaged(m);
    }

    /// <summary>A paged-out message left the queue without its body being needed (purged, or expired or dropped with no dead-letter exchange).</summary>
    private void DropPage(QueuedMessage m)
    {
        if (m.Message.IsPagedOut && m.PageRef >= 0)
        {
            _pages!.Drop(m.PageRef);
            Unpaged(m);
        }
    }

    /// <summary>The body of a message that stays paged out (re-journaled by compaction): read, and kept in the page file.</summary>
    private byte[] BodyOf(QueuedMessage m) => m.Message.IsPagedOut ? _pages!.Read(m.PageRef, m.Message.BodySize) : m.Message.Body;

    private void Unpaged(QueuedMessage m)
    {
        m.PageRef = -1;
        _pagedCount--;
        _pagedBytes -= m.Size;
    }

    /// <summary>The queue is gone (deleted, stopped, moved): its page file goes with it.</summary>
    private void DisposePages()
    {
        _pages?.Dispose();
        _pages = null;
        _pagedCount = 0;
        _pagedBytes = 0;
    }
}
