namespace Broker.Actors.Queues;

/// <summary>
/// A queue's ready messages: one id-ordered MessageDeque per priority level (a single one without
/// x-max-priority), taken highest level first, FIFO within a level. Keeps the counts the queue's
/// limits and expiry need, so none of them is a scan.
/// </summary>
public sealed class ReadyMessages
{
    private readonly MessageDeque[] _levels;
    private int _count;
    private long _bytes;
    private int _expiring;

    public ReadyMessages(byte maxPriority = 0)
    {
        _levels = new MessageDeque[maxPriority + 1];
        for (int i = 0; i < _levels.Length; i++)
        {
            _levels[i] = new MessageDeque();
        }
    }

    public int Count => _count;

    /// <summary>Body bytes of the ready messages.</summary>
    public long Bytes => _bytes;

    /// <summary>Ready messages that carry an expiry.</summary>
    public int Expiring => _expiring;

    /// <summary>The message delivered next: the front of the highest non-empty level.</summary>
    public QueuedMessage PeekFront() => Highest().PeekFront();

    public void PushBack(QueuedMessage m)
    {
        _levels[m.Priority].PushBack(m);
        Added(m);
    }

    public QueuedMessage PopFront() => Taken(Highest().PopFront());

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

        return m;
    }
}
