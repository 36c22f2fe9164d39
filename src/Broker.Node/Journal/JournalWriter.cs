using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Event;

namespace Broker.Node.Journal;

/// <summary>
/// The node's journal writes, on one thread of their own (group commit):
/// - every write request queued while a commit is going on goes into the next commit, whichever
///   queue (or other persistent actor) it comes from, so one fsync carries everything that
///   arrived meanwhile; with nothing else waiting, a request is committed as soon as it arrives;
/// - requests are committed in the order they came, so one actor's rows are never reordered;
/// - if the database refuses a row of a commit, the commit's requests are tried again one
///   transaction each, so one refused row (the fence refusing a queue this node no longer owns)
///   fails only its own request; if the connection fails (the outcome unknown), the group fails;
/// - deletes (compaction) run in their own transactions: on a database that takes them alongside
///   writes (PostgreSQL) on a second connection and thread of their own, so they never hold up a
///   commit; on SQLite, which has one writer at a time, on the writer thread when no write is
///   waiting (under writes that never pause, one that waited <see cref="MaxDeleteDelay"/> goes
///   between two commits);
/// - a commit slower than <see cref="SlowWrite"/> is logged with what it carried.
/// </summary>
internal sealed class JournalWriter : IDisposable
{
    /// <summary>A commit taking longer than this is logged (issue 12: the stall detector's node side).</summary>
    public static readonly TimeSpan SlowWrite = TimeSpan.FromMilliseconds(50);

    /// <summary>Most rows and bytes one commit carries; what is left waits for the next one.</summary>
    private const int MaxRowsPerCommit = 2000;
    private const int MaxBytesPerCommit = 8 * 1024 * 1024;

    /// <summary>Longest a delete waits for a pause in the writes before it goes between two commits.</summary>
    private static readonly TimeSpan MaxDeleteDelay = TimeSpan.FromMilliseconds(200);

    private readonly JournalDialect _dialect;
    private readonly ILoggingAdapter _log;
    private readonly ConcurrentQueue<PendingWrite> _writes = new();
    private readonly ConcurrentQueue<PendingDelete> _deletes = new();
    private readonly ManualResetEventSlim _signal = new(false);
    private readonly Thread _thread;
    private readonly List<PendingWrite> _batch = new();
    private volatile bool _stopping;

    private readonly Broker.Actors.Stats.JournalCommitCounters _counters;

    /// <summary>The deletes' own lane (connection, thread, wake-up), when the database takes deletes alongside writes.</summary>
    private readonly JournalDialect? _deleteDialect;
    private readonly Thread? _deleteThread;
    private readonly ManualResetEventSlim _deleteSignal = new(false);

    /// <param name="deleteDialect">
    /// A second connection for deletes, for a database that runs them alongside writes without
    /// blocking them (see <see cref="JournalDialect.DeletesAlongsideWrites"/>); null: deletes take
    /// turns with writes on the writer thread.
    /// </param>
    /// <param name="counters">Where commits are counted (the node's, exported on /metrics); a private set if none.</param>
    public JournalWriter(JournalDialect dialect, ILoggingAdapter log, Broker.Actors.Stats.JournalCommitCounters? counters = null,
        JournalDialect? deleteDialect = null)
    {
        _dialect = dialect;
        _log = log;
        _counters = counters ?? new Broker.Actors.Stats.JournalCommitCounters();
        _thread = new Thread(Run) { IsBackground = true, Name = "journal-writer" };
        if (deleteDialect is not null)
        {
            _deleteDialect = deleteDialect;
            _deleteThread = new Thread(RunDeletes) { IsBackground = true, Name = "journal-deleter" };
        }

        _thread.Start();
        _deleteThread?.Start();
    }

    public Task<System.Collections.Immutable.IImmutableList<Exception>?> Write(PendingWrite write)
    {
        if (_stopping)
        {
            write.Failed(new ObjectDisposedException(nameof(JournalWriter), "the journal is stopping"));
            return write.Task;
        }

        _writes.Enqueue(write);
        _signal.Set();
        return write.Task;
    }

    public Task Delete(string persistenceId, long toSequenceNr)
    {
        var delete = new PendingDelete(persistenceId, toSequenceNr);
        if (_stopping)
        {
            delete.Done.TrySetException(new ObjectDisposedException(nameof(JournalWriter), "the journal is stopping"));
            return delete.Done.Task;
        }

        _deletes.Enqueue(delete);
        (_deleteThread is null ? _signal : _deleteSignal).Set();
        return delete.Done.Task;
    }

    /// <summary>Completes once every write queued before it is committed (or failed).</summary>
    public Task Barrier() => Write(new PendingWrite([], null, inlineCompletion: false));

    private void Run()
    {
        while (true)
        {
            _signal.Wait();
            _signal.Reset();
            bool deletesHere = _deleteThread is null;
            while (!_writes.IsEmpty || (deletesHere && !_deletes.IsEmpty))
            {
                try
                {
                    if (!_writes.IsEmpty && !(deletesHere && DeleteOverdue()))
                    {
                        CommitNext();
                    }
                    else if (_deletes.TryDequeue(out var delete))
                    {
                        RunDelete(delete, _dialect);
                    }
                }
                catch (Exception e)
                {
                    // A bug here must not stop the node's only writer: every later write would hang.
                    _log.Error(e, "journal: the writer thread hit an unexpected error; it goes on");
                    foreach (var write in _batch)
                    {
                        write.Failed(e);
                    }

                    _batch.Clear();
                }
            }

            if (_stopping && _writes.IsEmpty && (!deletesHere || _deletes.IsEmpty))
            {
                _dialect.Dispose();
                return;
            }
        }
    }

    private void RunDeletes()
    {
        while (true)
        {
            _deleteSignal.Wait();
            _deleteSignal.Reset();
            while (_deletes.TryDequeue(out var delete))
            {
                RunDelete(delete, _deleteDialect!);
            }

            if (_stopping)
            {
                _deleteDialect!.Dispose();
                return;
            }
        }
    }

    /// <summary>Under writes that never pause, a delete still gets its turn after a while.</summary>
    private bool DeleteOverdue() => _deletes.TryPeek(out var oldest) && Stopwatch.GetElapsedTime(oldest.QueuedAt) > MaxDeleteDelay;

    private void CommitNext()
    {
        int rows = 0, bytes = 0;
        while (rows < MaxRowsPerCommit && bytes < MaxBytesPerCommit && _writes.TryDequeue(out var write))
        {
            _batch.Add(write);
            rows += write.Rows.Count;
            bytes += write.Bytes;
        }

        long started = Stopwatch.GetTimestamp();
        Exception? failure = null;
        try
        {
            if (rows > 0)
            {
                _dialect.Insert(_batch);
                _counters.Committed(rows, bytes);
            }
        }
        catch (Exception e)
        {
            failure = e;
            CloseQuietly(_dialect);
        }

        if (failure is null)
        {
            foreach (var write in _batch)
            {
                write.Written();
            }
        }
        else if (_batch.Count > 1 && _dialect.IsRowError(failure))
        {
            // The database refused a row and rolled the group back: the others are fine on their own.
            _log.Warning("journal: a commit of {0} write(s) failed ({1}); writing them one by one", _batch.Count, failure.GetBaseException().Message);
            CommitOneByOne();
        }
        else
        {
            // The connection failed, or the outcome is unknown (the commit may have landed before the
            // connection broke): the group fails once, rather than one reconnect per write, and its
            // actors recover from what the journal holds. A retry could only be refused by the
            // unique (persistence_id, sequence_number) index anyway.
            _log.Warning("journal: a commit of {0} write(s) failed: {1}", _batch.Count, failure.GetBaseException().Message);
            foreach (var write in _batch)
            {
                write.Failed(failure);
            }
        }

        ReportIfSlow(started, rows, bytes);
        _batch.Clear();
    }

    private static void CloseQuietly(JournalDialect dialect)
    {
        try
        {
            dialect.Close();
        }
        catch (Exception)
        {
            // A connection that failed may fail to close too; the next call opens a new one.
        }
    }

    private void CommitOneByOne()
    {
        foreach (var write in _batch)
        {
            try
            {
                if (write.Rows.Count > 0)
                {
                    _dialect.Insert([write]);
                    _counters.Committed(write.Rows.Count, write.Bytes);
                }
            }
            catch (Exception e)
            {
                CloseQuietly(_dialect);
                write.Failed(e);
                continue;
            }

            write.Written();
        }
    }

    private void ReportIfSlow(long started, int rows, int bytes)
    {
        var took = Stopwatch.GetElapsedTime(started);
        if (took < SlowWrite || rows == 0)
        {
            return;
        }

        var waited = Stopwatch.GetElapsedTime(_batch[0].QueuedAt, started);
        var writers = _batch.Where(w => w.Rows.Count > 0).Select(w => w.Rows[0].PersistenceId).Distinct().ToList();
        _log.Warning("journal: slow write: commit took {0:0.0} ms for {1} row(s), {2} bytes, from {3} writer(s) ({4}); the oldest request had waited {5:0.0} ms before it",
            took.TotalMilliseconds, rows, bytes, writers.Count, string.Join(", ", writers.Take(3)) + (writers.Count > 3 ? ", ..." : string.Empty),
            waited.TotalMilliseconds);
    }

    private void RunDelete(PendingDelete delete, JournalDialect dialect)
    {
        long started = Stopwatch.GetTimestamp();
        try
        {
            dialect.Delete(delete.PersistenceId, delete.ToSequenceNr);
            delete.Done.TrySetResult();
        }
        catch (Exception e)
        {
            CloseQuietly(dialect);
            delete.Done.TrySetException(e);
        }

        var took = Stopwatch.GetElapsedTime(started);
        if (took >= SlowWrite)
        {
            _log.Warning("journal: slow delete: {0:0.0} ms to delete '{1}' up to {2}", took.TotalMilliseconds, delete.PersistenceId, delete.ToSequenceNr);
        }
    }

    /// <summary>Writes what is queued, then stops the thread (and closes the connection).</summary>
    public void Dispose()
    {
        _stopping = true;
        _signal.Set();
        _deleteSignal.Set();
        // Code that awaited a write may run on the writer thread itself (completions are inline).
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join(TimeSpan.FromSeconds(10));
        }

        if (_deleteThread is not null && Thread.CurrentThread != _deleteThread)
        {
            _deleteThread.Join(TimeSpan.FromSeconds(10));
        }
    }

    private sealed record PendingDelete(string PersistenceId, long ToSequenceNr)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long QueuedAt { get; } = Stopwatch.GetTimestamp();
    }
}
