namespace Broker.Actors.Queues;

/// <summary>
/// A queue's ready messages: one id-ordered MessageDeque per priority level (a single one without
/// x-max-priority), taken highest level first, FIFO within a level. Keeps the counts the queue's
/// limits and expiry need, so none of them is a scan.
/// Paging (a queue without priorities, given an IPagedTail): while the messages in memory cost more
/// than the budget, each new message goes to the paged tail instead, whole, and costs no memory;
/// once the messages in memory are all taken, the next batch is read back. So the head, which
/// consumers take next, is always in memory, and every message in memory is older than every paged
/// one (requeued messages go back to the head: they were delivered from it).
/// </summary>
public sealed class ReadyMessages
{
    /// <summary>What a message in memory is counted as besides its body (its entry, message and properties).</summary>
    public const int EntryOverhead = 200;

    /// <summary>How much is read back from the paged tail at a time.</summary>
    private const long PageInBatchBytes = 1 << 20;

    private readonly MessageDeque[] _levels;
    private readonly IPagedTail? _tail;
    private readonly long _budget;
    private readonly List<QueuedMessage> _pageIn = new();
    private int _count;
    private long _bytes;
    private int _expiring;
    private int _pagedCount;
    private long _pagedBytes;

    /// <param name="tail">Where messages over <paramref name="budget"/> go (null, or with priority levels: nowhere, they stay in memory).</param>
    public ReadyMessages(byte maxPriority = 0, IPagedTail? tail = null, long budget = 0)
    {
        _levels = new MessageDeque[maxPriority + 1];
        for (int i = 0; i < _levels.Length; i++)
        {
            _levels[i] = new MessageDeque();
        }

        _tail = maxPriority == 0 && budget > 0 ? tail : null;
        _budget = budget;
    }

    /// <summary>Ready messages in the paged tail, not in memory.</summary>
    public int PagedCount => _pagedCount;

    public int Count => _count;

    /// <summary>Body bytes of the ready messages.</summary>
    public long Bytes => _bytes;

    /// <summary>Ready messages that carry an expiry.</summary>
    public int Expiring => _expiring;

    /// <summary>The message delivered next: the front of the highest non-empty level.</summary>
    public QueuedMessage PeekFront() => Highest().PeekFront();

    public void PushBack(QueuedMessage m)
    {
        bool page = _tail is not null && _levels[0].Count > 0 && (_pagedCount > 0 || MemoryCost() + m.Size + EntryOverhead > _budget);
        Added(m);
        if (page)
        {
            if (_tail!.TryAppend(m))
            {
                _pagedCount++;
                _pagedBytes += m.Size;
                return;
            }

            // It stays in memory; so must every older one, to keep the order.
            while (_pagedCount > 0)
            {
                PageIn(long.MaxValue);
            }
        }

        _levels[m.Priority].PushBack(m);
    }

    public QueuedMessage PopFront() => Taken(Highest().PopFront());

    /// <summary>
    /// Recovery: a message that is in the paged tail already (a RecoveredTail, which reads it from
    /// its journal row), counted but not read. False if this queue does not page (priority levels,
    /// no budget): the caller restores the message into memory instead. Call <see cref="PageInHead"/>
    /// after the last.
    /// </summary>
    public bool TryAddPaged(int size, long expiresAt)
    {
        if (_tail is null)
        {
            return false;
        }

        _count++;
        _bytes += size;
        if (expiresAt != 0)
        {
            _expiring++;
        }

        _pagedCount++;
        _pagedBytes += size;
        return true;
    }

    /// <summary>Recovery is over: the head of what was added paged is read back, so the messages in memory are the oldest again.</summary>
    public void PageInHead()
    {
        if (_pagedCount > 0 && _levels[0].Count == 0)
        {
            PageIn(Math.Min(PageInBatchBytes, Math.Max(1, _budget / 2)));
        }
    }

    /// <summary>Puts a returned message back where its id belongs in its level.</summary>
    public void InsertById(QueuedMessage m)
    {
        _levels[m.Priority].InsertById(m);
        Added(m);
    }

    public QueuedMessage? FindById(long id)
    {
        foreach (var level in _levels)
        {
            if (level.FindById(id) is { } m)
            {
                return m;
            }
        }

        return null;
    }

    /// <summary>The earliest expiry among the fronts of the levels (expiry happens at the head), or long.MaxValue.</summary>
    public long EarliestFrontExpiry()
    {
        long earliest = long.MaxValue;
        foreach (var level in _levels)
        {
            if (level.Count > 0 && level.PeekFront().ExpiresAt is > 0 and var at && at < earliest)
            {
                earliest = at;
            }
        }

        return earliest;
    }

    /// <summary>Takes the front of the first level (lowest first) whose front expired before <paramref name="now"/>, if any.</summary>
    public QueuedMessage? PopExpiredFront(long now)
    {
        foreach (var level in _levels)
        {
            if (level.Count > 0 && level.PeekFront().ExpiresAt is > 0 and var at && at < now)
            {
                return Taken(level.PopFront());
            }
        }

        return null;
    }

    public void Clear()
    {
        foreach (var level in _levels)
        {
            level.Clear();
        }

        _tail?.Clear();
        _pagedCount = 0;
        _pagedBytes = 0;
        _count = 0;
        _bytes = 0;
        _expiring = 0;
    }

    private MessageDeque Highest()
    {
        for (int i = _levels.Length - 1; i > 0; i--)
        {
            if (_levels[i].Count > 0)
            {
                return _levels[i];
            }
        }

        return _levels[0];
    }

    private void Added(QueuedMessage m)
    {
        _count++;
        _bytes += m.Size;
        if (m.ExpiresAt != 0)
        {
            _expiring++;
        }
    }

    private QueuedMessage Taken(QueuedMessage m)
    {
        _count--;
        _bytes -= m.Size;
        if (m.ExpiresAt != 0)
        {
            _expiring--;
        }

        if (_pagedCount > 0 && _levels[0].Count == 0)
        {
            PageIn(Math.Min(PageInBatchBytes, Math.Max(1, _budget / 2)));
        }

        return m;
    }

    /// <summary>The messages in memory as counted against the budget.</summary>
    private long MemoryCost() => _bytes - _pagedBytes + (long)_levels[0].Count * EntryOverhead;

    /// <summary>Reads the next batch of the paged tail back into memory (behind what is there: it is newer).</summary>
    private void PageIn(long maxBytes)
    {
        _pageIn.Clear();
        _tail!.ReadNext(maxBytes, _pageIn);
        if (_pageIn.Count == 0)
        {
            throw new InvalidOperationException($"the paged tail returned nothing while {_pagedCount} message(s) were paged");
        }

        foreach (var m in _pageIn)
        {
            _levels[0].PushBack(m);
            _pagedCount--;
            _pagedBytes -= m.Size;
        }

        _pageIn.Clear();
    }
}
