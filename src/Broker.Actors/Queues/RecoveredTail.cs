namespace Broker.Actors.Queues;

/// <summary>A recovered message not read back yet: its id, the journal row that holds it, its body size and expiry.</summary>
public readonly record struct RecoveredEntry(long Id, long Row, int Size, long ExpiresAt);

/// <summary>
/// The paged tail of a durable queue after a restart: the backlog it recovered stays in the journal
/// rows that hold it (the replay kept only each message's id, row, size and expiry), and is read
/// back from those rows a batch at a time as consumers reach it, in id order. Messages that arrive
/// after the recovered ones page to the queue's page file as usual (<paramref name="next"/>), and are
/// read once the recovered ones are all taken. So a restart no longer keeps every body of the
/// backlog in memory until the queue is rebuilt, nor writes them all to the page file again.
/// </summary>
/// <param name="entries">The recovered messages, in id order.</param>
/// <param name="readRows">Reads rows [from, to] and hands over each journaled message of them.</param>
/// <param name="restore">Makes the queued message of a journaled one (the same as an eager recovery would).</param>
public sealed class RecoveredTail(
    RecoveredEntry[] entries,
    Action<long, long, Action<StoredMessage>> readRows,
    Func<StoredMessage, QueuedMessage> restore,
    IPagedTail? next) : IPagedTail
{
    private readonly Dictionary<long, StoredMessage?> _wanted = new();
    private readonly List<long> _rows = new();
    private int _next;

    public bool TryAppend(QueuedMessage message) => next?.TryAppend(message) ?? false;

    public void ReadNext(long maxBytes, List<QueuedMessage> into)
    {
        if (_next >= entries.Length)
        {
            next!.ReadNext(maxBytes, into);
            return;
        }

        int first = _next, end = _next;
        long bytes = 0;
        while (end < entries.Length && (end == first || bytes < maxBytes))
        {
            bytes += entries[end].Size;
            _wanted[entries[end].Id] = null;
            _rows.Add(entries[end].Row);
            end++;
        }

        // Rows of a batch are mostly consecutive; a message written again later (a straggler) is
        // in a row of its own further on: each run of consecutive rows (repeats included) is one read.
        _rows.Sort();
        for (int i = 0; i < _rows.Count;)
        {
            int j = i;
            while (j + 1 < _rows.Count && _rows[j + 1] - _rows[j] <= 1)
            {
                j++;
            }

            readRows(_rows[i], _rows[j], m =>
            {
                if (_wanted.ContainsKey(m.Id))
                {
                    _wanted[m.Id] = m;
                }
            });
            i = j + 1;
        }

        for (int k = first; k < end; k++)
        {
            long id = entries[k].Id;
            into.Add(restore(_wanted[id] ?? throw new InvalidOperationException(
                $"recovered message {id} is not in journal row {entries[k].Row} any more")));
        }

        _wanted.Clear();
        _rows.Clear();
        _next = end;
    }

    public void Clear()
    {
        _next = entries.Length;
        next?.Clear();
    }
}
