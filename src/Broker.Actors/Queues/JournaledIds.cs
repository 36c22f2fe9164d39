namespace Broker.Actors.Queues;

/// <summary>
/// The journal row of every live journaled message of a queue, in a few bits per message rather
/// than a dictionary entry (about 40 B each: 400 MB for a backlog of 10M). It relies on how a queue
/// writes: ids grow, and each enqueue row holds a run of them above those of the rows before. So a
/// row is kept as its range of ids (one entry per row), liveness as one bit per id from the oldest
/// live one, and only ids that arrive out of that order (a straggler written again in a later row,
/// or recovered from one) in a dictionary of their own.
/// </summary>
internal sealed class JournaledIds
{
    /// <summary>Rows in order (ids and rows both ascending), from <see cref="_firstRun"/> on.</summary>
    private readonly List<(long Row, long FirstId, long LastId)> _runs = new();
    private int _firstRun;

    /// <summary>Ids tracked out of run order, with their rows.</summary>
    private readonly Dictionary<long, long> _moved = new();

    /// <summary>Live bits: bit i of word w is id <see cref="_baseId"/> + 64 (w - <see cref="_firstWord"/>) + i.</summary>
    private ulong[] _words = new ulong[16];
    private int _firstWord;
    private int _wordCount;
    private long _baseId = -1;

    public int Count { get; private set; }

    public void Add(long id, long row)
    {
        if (Count == 0)
        {
            // Nothing live: start afresh, so the bits begin at this id.
            _runs.Clear();
            _firstRun = 0;
            _moved.Clear();
            Array.Clear(_words);
            _firstWord = 0;
            _wordCount = 0;
            _baseId = id & ~63L;
        }

        if (id < _baseId)
        {
            Rebase(id & ~63L);
        }

        int last = _runs.Count - 1;
        if (last >= _firstRun && _runs[last].Row == row && id > _runs[last].LastId)
        {
            _runs[last] = (row, _runs[last].FirstId, id);
        }
        else if (last < _firstRun || row > _runs[last].Row && id > _runs[last].LastId)
        {
            _runs.Add((row, id, id));
        }
        else
        {
            _moved[id] = row;
        }

        SetBit(id);
        Count++;
    }

    /// <summary>Forgets a live id; false if it is not one.</summary>
    public bool Remove(long id, out long row)
    {
        if (!IsLive(id))
        {
            row = 0;
            return false;
        }

        row = _moved.Remove(id, out long moved) ? moved : _runs[RunOf(id)].Row;
        ClearBit(id);
        Count--;
        return true;
    }

    public bool TryGetRow(long id, out long row)
    {
        if (!IsLive(id))
        {
            row = 0;
            return false;
        }

        row = _moved.TryGetValue(id, out long moved) ? moved : _runs[RunOf(id)].Row;
        return true;
    }

    /// <summary>The live ids in <paramref name="row"/>.</summary>
    public List<long> IdsIn(long row)
    {
        var ids = new List<long>();
        int run = _runs.FindIndex(_firstRun, r => r.Row == row);
        if (run >= 0)
        {
            for (long id = _runs[run].FirstId; id <= _runs[run].LastId; id++)
            {
                if (IsLive(id) && !_moved.ContainsKey(id))
                {
                    ids.Add(id);
                }
            }
        }

        ids.AddRange(_moved.Where(m => m.Value == row).Select(m => m.Key));
        return ids;
    }

    /// <summary>Drops the runs of rows with no live id left at the front (rows below <paramref name="oldestLiveRow"/>).</summary>
    public void ForgetRowsBelow(long oldestLiveRow)
    {
        while (_firstRun < _runs.Count && _runs[_firstRun].Row < oldestLiveRow)
        {
            _firstRun++;
        }

        if (_firstRun > 1024 && _firstRun > _runs.Count / 2)
        {
            _runs.RemoveRange(0, _firstRun);
            _firstRun = 0;
        }
    }

    /// <summary>The run holding <paramref name="id"/> (a live id that is not moved is in one).</summary>
    private int RunOf(long id)
    {
        int lo = _firstRun, hi = _runs.Count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (_runs[mid].FirstId <= id)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return lo;
    }

    private bool IsLive(long id)
    {
        long bit = id - _baseId;
        if (Count == 0 || bit < 0 || bit >= (long)_wordCount * 64)
        {
            return false;
        }

        return (_words[_firstWord + (int)(bit >> 6)] & (1UL << (int)(bit & 63))) != 0;
    }

    private void SetBit(long id)
    {
        long bit = id - _baseId;
        int word = (int)(bit >> 6);
        if (word >= _wordCount)
        {
            Grow(word + 1);
        }

        _words[_firstWord + word] |= 1UL << (int)(bit & 63);
    }

    private void ClearBit(long id)
    {
        long bit = id - _baseId;
        _words[_firstWord + (int)(bit >> 6)] &= ~(1UL << (int)(bit & 63));
        // Leading words with no live id go: the bits begin at the oldest live id.
        while (_wordCount > 0 && _words[_firstWord] == 0)
        {
            _firstWord++;
            _wordCount--;
            _baseId += 64;
        }
    }

    private void Grow(int words)
    {
        if (_firstWord + words > _words.Length)
        {
            var bigger = words * 2 > _words.Length ? new ulong[Math.Max(words * 2, 16)] : _words;
            Array.Copy(_words, _firstWord, bigger, 0, _wordCount);
            if (ReferenceEquals(bigger, _words))
            {
                Array.Clear(_words, _wordCount, _firstWord);
            }

            _words = bigger;
            _firstWord = 0;
        }

        _wordCount = words;
    }

    /// <summary>An id below the first bit (a straggler recovered after newer ones): the bits move up to make room.</summary>
    private void Rebase(long newBase)
    {
        int shift = (int)((_baseId - newBase) >> 6);
        var words = new ulong[Math.Max(16, (_wordCount + shift) * 2)];
        Array.Copy(_words, _firstWord, words, shift, _wordCount);
        _words = words;
        _firstWord = 0;
        _wordCount += shift;
        _baseId = newBase;
    }
}
