namespace Broker.Actors.Queues;

/// <summary>
/// The ready messages of a queue in id order: a ring buffer, since publishes append and deliveries
/// take from the front. Requeued messages go back to their place by id, so order is kept.
/// </summary>
public sealed class MessageDeque
{
    private QueuedMessage[] _items = new QueuedMessage[64];
    private int _head;
    private int _count;

    public int Count => _count;

    public QueuedMessage PeekFront() => _items[_head];

    public void PushBack(QueuedMessage m)
    {
        Grow();
        _items[(_head + _count) % _items.Length] = m;
        _count++;
    }

    public QueuedMessage PopFront()
    {
        var m = _items[_head];
        _items[_head] = null!;
        _head = (_head + 1) % _items.Length;
        _count--;
        return m;
    }

    /// <summary>Puts a message back where its id belongs (usually the front).</summary>
    public void InsertById(QueuedMessage m)
    {
        Grow();
        if (_count == 0 || m.Id < _items[_head].Id)
        {
            _head = (_head - 1 + _items.Length) % _items.Length;
            _items[_head] = m;
            _count++;
            return;
        }

        // Rare path: shift the tail right until the slot for m is free.
        int i = _count;
        while (i > 0 && _items[(_head + i - 1) % _items.Length].Id > m.Id)
        {
            _items[(_head + i) % _items.Length] = _items[(_head + i - 1) % _items.Length];
            i--;
        }

        _items[(_head + i) % _items.Length] = m;
        _count++;
    }

    /// <summary>The message with this id, if it is here (binary search: the deque is in id order).</summary>
    public QueuedMessage? FindById(long id)
    {
        int lo = 0, hi = _count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var m = _items[(_head + mid) % _items.Length];
            if (m.Id == id)
            {
                return m;
            }

            if (m.Id < id)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return null;
    }

    public int Clear()
    {
        int n = _count;
        Array.Clear(_items);
        _head = 0;
        _count = 0;
        return n;
    }

    private void Grow()
    {
        if (_count < _items.Length)
        {
            return;
        }

        var bigger = new QueuedMessage[_items.Length * 2];
        for (int i = 0; i < _count; i++)
        {
            bigger[i] = _items[(_head + i) % _items.Length];
        }

        _items = bigger;
        _head = 0;
    }
}
