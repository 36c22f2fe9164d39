namespace Broker.Actors.Queues;

/// <summary>
/// The journal bookkeeping of a durable queue, as a pure state type (QueueActor.Journal.cs does
/// the writes): which message ids are on their way into the journal, which removals may be
/// written (never before the enqueue of the same message was handed to the journal), which journal
/// row holds each live message, and from that where compaction may cut and which old row holds so
/// few live messages that they are better written again than waited for.
/// </summary>
internal sealed class JournalLedger
{
    /// <summary>Enqueued, not yet confirmed written.</summary>
    private readonly HashSet<long> _unwritten = new();

    /// <summary>In the enqueue batch being gathered, not yet handed to the journal.</summary>
    private readonly HashSet<long> _unissued = new();

    /// <summary>Removed while their enqueue was being written: once written, they are not live.</summary>
    private readonly HashSet<long> _removedBeforeWritten = new();

    /// <summary>Removals waiting to be written.</summary>
    private readonly List<long> _removals = new();

    /// <summary>The journal row (sequence number) of every live journaled message, and live messages per row.</summary>
    private readonly JournaledIds _journaledAt = new();
    private readonly SortedDictionary<long, int> _liveInRow = new();

    /// <summary>Removals waiting to be written.</summary>
    public int PendingRemovals => _removals.Count;

    /// <summary>How many live messages the journal holds.</summary>
    public int Live => _journaledAt.Count;

    /// <summary>
    /// Replay: a message in the row it was read from. Rows come in journal order; a message seen in
    /// an earlier row (a straggler written again) is in this one now.
    /// </summary>
    public void Recovered(long id, long row)
    {
        Untrack(id);
        Track(id, row);
    }

    /// <summary>Replay: a removal of a message read back before.</summary>
    public void RecoveredRemoval(long id) => Untrack(id);

    /// <summary>A persistent message joined the enqueue batch being gathered.</summary>
    public void Enqueued(long id)
    {
        _unwritten.Add(id);
        _unissued.Add(id);
    }

    /// <summary>The gathered enqueue batch was handed to the journal.</summary>
    public void EnqueueBatchIssued() => _unissued.Clear();

    /// <summary>An enqueue batch is in the journal, as row <paramref name="row"/>.</summary>
    public void EnqueuesWritten(IEnumerable<long> ids, long row)
    {
        foreach (var id in ids)
        {
            _unwritten.Remove(id);
            if (!_removedBeforeWritten.Remove(id))
            {
                Track(id, row);
            }
        }
    }

    /// <summary>A message left the queue. Returns whether a removal must be journaled (false: it never reached the journal).</summary>
    public bool Removed(long id)
    {
        if (_unwritten.Contains(id))
        {
            // Its enqueue is still being written: the removal follows it into the journal.
            _removedBeforeWritten.Add(id);
        }
        else if (!Untrack(id))
        {
            return false;
        }

        _removals.Add(id);
        return true;
    }

    /// <summary>Takes the removals that may be written now: those whose enqueue was handed to the journal.</summary>
    public long[] TakeWritableRemovals()
    {
        long[] ready;
        if (_unissued.Count == 0)
        {
            ready = _removals.ToArray();
            _removals.Clear();
        }
        else
        {
            ready = _removals.Where(id => !_unissued.Contains(id)).ToArray();
            _removals.RemoveAll(id => !_unissued.Contains(id));
        }

        return ready;
    }

    /// <summary>The gathered batch will not be written (the queue is being deleted): forget it and the removals.</summary>
    public void DropUnissued()
    {
        foreach (var id in _unissued)
        {
            _unwritten.Remove(id);
        }

        _unissued.Clear();
        _removals.Clear();
    }

    /// <summary>The oldest row that holds a live message (long.MaxValue: none).</summary>
    public long OldestLiveRow => _liveInRow.Count > 0 ? _liveInRow.Keys.First() : long.MaxValue;

    /// <summary>Where compaction may cut: every row below the oldest live one, at most up to the last row written.</summary>
    public long CompactionCut(long lastRow) => Math.Min(OldestLiveRow - 1, lastRow);

    /// <summary>
    /// The oldest live row, if it fell more than <paramref name="distance"/> rows behind, holds at
    /// most <paramref name="maxMessages"/> live messages, and at most a quarter of the rows in the
    /// <paramref name="distance"/> from it still hold live messages: a few long-unsettled messages
    /// among rows otherwise settled, worth writing again so compaction can pass them. Null
    /// otherwise: in particular the head of a deep backlog, where every row is still live, is not
    /// written again and again (that moved a backlog of millions through the journal a row at a
    /// time, for nothing: the next row was as live).
    /// </summary>
    public long? StragglerRow(long lastRow, long distance, int maxMessages)
    {
        long oldest = OldestLiveRow;
        if (oldest == long.MaxValue || lastRow - oldest <= distance || _liveInRow[oldest] > maxMessages)
        {
            return null;
        }

        int liveRows = 0;
        foreach (long row in _liveInRow.Keys)
        {
            if (row >= oldest + distance)
            {
                break;
            }

            if (++liveRows > distance / 4)
            {
                return null;
            }
        }

        return oldest;
    }

    /// <summary>The live messages of a row.</summary>
    public List<long> LiveIn(long row) => _journaledAt.IdsIn(row);

    /// <summary>Messages of <paramref name="oldRow"/> were written again as <paramref name="newRow"/> (those still live there move).</summary>
    public void Rewritten(IEnumerable<long> ids, long oldRow, long newRow)
    {
        foreach (var id in ids)
        {
            if (_journaledAt.TryGetRow(id, out long row) && row == oldRow)
            {
                Untrack(id);
                Track(id, newRow);
            }
        }
    }

    private void Track(long id, long row)
    {
        _journaledAt.Add(id, row);
        _liveInRow[row] = _liveInRow.TryGetValue(row, out int n) ? n + 1 : 1;
    }

    private bool Untrack(long id)
    {
        if (!_journaledAt.Remove(id, out long row))
        {
            return false;
        }

        if (--_liveInRow[row] == 0)
        {
            _liveInRow.Remove(row);
            _journaledAt.ForgetRowsBelow(OldestLiveRow);
        }

        return true;
    }
}
