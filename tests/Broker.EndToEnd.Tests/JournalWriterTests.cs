using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Text;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Persistence;
using Broker.Actors.Persistence;
using Broker.Node;
using Broker.Node.Journal;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// The journal's own write path (Broker.Node/Journal) against a real SQLite file: JournalWriter
/// with SqliteJournalDialect, driven directly. What piles up while a commit waits goes into the
/// next transaction in arrival order, a failed group is retried write by write, deletes keep the
/// plugin's semantics and wait for queued writes, and a slow commit is logged.
/// To make writes pile up deterministically a second connection holds SQLite's write lock
/// (BEGIN IMMEDIATE) while they are queued: the writer's commit waits for it (busy_timeout), so
/// everything queued meanwhile is in the queue before the writer can take the next group.
/// </summary>
public sealed class JournalWriterTests : IAsyncLifetime
{
    /// <summary>Akka.Persistence.Sql's "default" table mapping, as the plugin creates it on SQLite.</summary>
    private const string Schema = """
        CREATE TABLE [journal] ([ordering] INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, [created] INTEGER NOT NULL, [deleted] Bit NOT NULL, [persistence_id] NVarChar(255) NOT NULL, [sequence_number] INTEGER NOT NULL, [message] VarBinary NOT NULL, [manifest] NVarChar(500) NULL, [identifier] INTEGER NULL, [writer_uuid] NVarChar(128) NULL);
        CREATE UNIQUE INDEX journal_uq ON journal (persistence_id, sequence_number);
        CREATE TABLE [tags] ([ordering_id] INTEGER NOT NULL, [tag] NVarChar(64) NOT NULL, [sequence_nr] INTEGER NOT NULL, [persistence_id] NVarChar(255) NOT NULL, CONSTRAINT [PK_tags] PRIMARY KEY ([ordering_id], [tag]));
        """;

    private const string WriterUuid = "sqlite-writer-under-test";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly string _dir = Directory.CreateTempSubdirectory("broker-journal-writer-").FullName;
    private ActorSystem _system = null!;
    private JournalWarnings _warnings = null!;

    /// <summary>
    /// Open for the whole test: it reads, it holds the write lock when a test needs writes to pile
    /// up, and it keeps the WAL file from being checkpointed away (SQLite does that when the last
    /// connection closes), so commits can be counted in it.
    /// </summary>
    private SqliteConnection _db = null!;

    private string DbPath => Path.Combine(_dir, "journal.db");

    private string ConnectionString => $"Data Source={DbPath};Pooling=False";

    public Task InitializeAsync()
    {
        _db = new SqliteConnection(ConnectionString);
        _db.Open();
        // WAL, as the node turns it on before the journal opens the file (JournalConfig.EnableWal).
        Execute("PRAGMA journal_mode=WAL;");
        Execute(Schema);
        _system = ActorSystem.Create("journal-writer-tests");
        _warnings = new JournalWarnings(_system);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _db.Dispose();
        await _system.Terminate().WaitAsync(Timeout);
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind does no harm.
        }
    }

    private JournalWriter NewWriter() => new(new SqliteJournalDialect(ConnectionString, WriterUuid), _warnings.Log);

    [Fact]
    public async Task Writes_queued_during_a_commit_are_committed_together_in_arrival_order_with_every_column()
    {
        using var writer = NewWriter();

        // The way commits are counted here (commit frames in the WAL file) must see one lone write
        // as exactly one transaction, or the bound below would prove nothing.
        int before = WalCommits();
        Assert.Null(await JournalTasks.OffWriter(writer.Write(Write("lone", 1))));
        Assert.Equal(before + 1, WalCommits());

        before = WalCommits();
        long orderingBefore = Scalar("SELECT MAX(ordering) FROM journal");
        Task<IImmutableList<Exception>?>[][] queued;
        using (var tx = _db.BeginTransaction(deferred: false))
        {
            // 20 persistent actors, each queueing its 10 writes in order, from threads of their own.
            queued = await Task.WhenAll(Enumerable.Range(0, 20).Select(p => Task.Run(() =>
                Enumerable.Range(1, 10).Select(seq => writer.Write(Write(Pid(p), seq))).ToArray())));
            // Nothing can be committed while this connection holds the write lock.
            Assert.DoesNotContain(queued.SelectMany(w => w), w => w.IsCompleted);
            tx.Rollback();
        }

        var results = await JournalTasks.OffWriter(Task.WhenAll(queued.SelectMany(w => w)));
        Assert.All(results, r => Assert.Null(r));

        // Grouping: the writer can have taken only what was queued when it woke up into the commit
        // that waited for the lock; everything else was queued before that commit could end, so it
        // all goes into the next one. 200 writes, at most 2 transactions.
        int commits = WalCommits() - before;
        Assert.InRange(commits, 1, 2);

        var rows = Rows("persistence_id LIKE 'pid-%'");
        Assert.Equal(200, rows.Count);
        // One commit after another, nothing else writing: the 200 rows took 200 consecutive orderings.
        Assert.Equal(Enumerable.Range(1, 200).Select(i => orderingBefore + i), rows.Select(r => r.Ordering));
        foreach (var row in rows)
        {
            Assert.Equal(Created(row.SequenceNr), row.Created);
            Assert.False(row.Deleted);
            Assert.Equal(Payload(row.PersistenceId, row.SequenceNr), row.Message);
            Assert.Equal("test-manifest", row.Manifest);
            Assert.Equal(42L, row.Identifier);
            Assert.Equal(WriterUuid, row.WriterUuid);
        }

        // Arrival order is kept: each actor's rows are in the table in its own order.
        foreach (var group in rows.GroupBy(r => r.PersistenceId))
        {
            Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), group.OrderBy(r => r.Ordering).Select(r => r.SequenceNr));
        }
    }

    [Fact]
    public async Task A_failed_group_is_retried_write_by_write_so_only_the_duplicate_fails()
    {
        using var writer = NewWriter();
        Execute("INSERT INTO journal (created, deleted, persistence_id, sequence_number, message, manifest, identifier, writer_uuid) " +
                "VALUES (1, 0, 'p', 2, X'6F726967696E616C', 'original', 1, 'earlier-writer')");

        PendingWrite first = Write("p", 1), duplicate = Write("p", 2), other = Write("q", 1);
        using (var tx = _db.BeginTransaction(deferred: false))
        {
            // Held while the three are queued: the duplicate is in a group with at least one of the
            // others whichever way the writer's wake-up falls (it can take only a prefix first).
            _ = writer.Write(first);
            _ = writer.Write(duplicate);
            _ = writer.Write(other);
            tx.Rollback();
        }

        Assert.Null(await JournalTasks.OffWriter(first.Task));
        Assert.Null(await JournalTasks.OffWriter(other.Task));
        var refused = await Assert.ThrowsAsync<SqliteException>(() => JournalTasks.OffWriter(duplicate.Task));
        Assert.Equal(19, refused.SqliteErrorCode); // SQLITE_CONSTRAINT
        Assert.Equal(2067, refused.SqliteExtendedErrorCode); // SQLITE_CONSTRAINT_UNIQUE

        // The group did fail as a whole before it was retried one by one.
        await _warnings.WaitForAsync(w => w.Contains("failed") && w.Contains("one by one"), "about the failed group", Timeout);

        var rows = Rows();
        Assert.Equal(new[] { ("p", 1L), ("p", 2L), ("q", 1L) }, rows.Select(r => (r.PersistenceId, r.SequenceNr)).OrderBy(x => x));
        // The row already there is untouched.
        var kept = rows.Single(r => r is { PersistenceId: "p", SequenceNr: 2 });
        Assert.Equal("original"u8.ToArray(), kept.Message);
        Assert.Equal("earlier-writer", kept.WriterUuid);
        Assert.Equal(Payload("p", 1), rows.Single(r => r is { PersistenceId: "p", SequenceNr: 1 }).Message);
        Assert.Equal(Payload("q", 1), rows.Single(r => r.PersistenceId == "q").Message);
    }

    [Fact]
    public async Task Delete_marks_up_to_n_keeps_the_highest_marked_row_and_removes_tags_up_to_n()
    {
        using var writer = NewWriter();
        var writes = Enumerable.Range(1, 10).SelectMany(seq => new[] { writer.Write(Write("p", seq)), writer.Write(Write("other", seq)) });
        await JournalTasks.OffWriter(Task.WhenAll(writes));
        // The writer writes no tags; rows as the plugin's tag table would hold them.
        Execute("INSERT INTO tags (ordering_id, tag, sequence_nr, persistence_id) SELECT ordering, 'tag', sequence_number, persistence_id FROM journal");

        await JournalTasks.OffWriter(writer.Delete("p", 6));

        var p = Rows("persistence_id = 'p'");
        Assert.Equal(new long[] { 6, 7, 8, 9, 10 }, p.Select(r => r.SequenceNr));
        Assert.True(p[0].Deleted, "row 6 stays, marked deleted (it keeps the highest sequence number readable)");
        Assert.All(p.Skip(1), r => Assert.False(r.Deleted, $"row {r.SequenceNr} is after the delete"));
        AssertUntouched("other");
        Assert.Equal(new long[] { 7, 8, 9, 10 }, Longs("SELECT sequence_nr FROM tags WHERE persistence_id = 'p' ORDER BY sequence_nr"));

        await JournalTasks.OffWriter(writer.Delete("p", 10));

        p = Rows("persistence_id = 'p'");
        Assert.Equal(10, Assert.Single(p).SequenceNr);
        Assert.True(p[0].Deleted);
        AssertUntouched("other");
        Assert.Empty(Longs("SELECT sequence_nr FROM tags WHERE persistence_id = 'p'"));
        Assert.Equal(10, Scalar("SELECT COUNT(*) FROM tags WHERE persistence_id = 'other'"));
    }

    [Fact]
    public async Task The_index_lists_every_persistence_id_with_rows_once_including_one_whose_rows_were_all_deleted()
    {
        using (var writer = NewWriter())
        {
            var writes = Enumerable.Range(1, 5).SelectMany(seq => new[] { writer.Write(Write("queue-a", seq)), writer.Write(Write("queue-b", seq)) });
            await JournalTasks.OffWriter(Task.WhenAll(writes));
            // All of queue-b's rows deleted: its highest stays, marked, as after a queue.delete.
            await JournalTasks.OffWriter(writer.Delete("queue-b", 5));
        }

        var ids = await new JournalIndex("SQLite.MS", ConnectionString).PersistenceIdsAsync(CancellationToken.None);

        Assert.Equal(["queue-a", "queue-b"], ids.Order());
    }

    [Fact]
    public async Task The_reader_replays_a_range_in_order_without_deleted_rows_and_its_highest_counts_the_deleted_row()
    {
        using (var writer = NewWriter())
        {
            var writes = Enumerable.Range(1, 10).SelectMany(seq => new[] { writer.Write(Write("p", seq)), writer.Write(Write("other", seq)) });
            await JournalTasks.OffWriter(Task.WhenAll(writes));
            // Rows 1-3 go, row 3 stays marked deleted: what compaction leaves.
            await JournalTasks.OffWriter(writer.Delete("p", 3));
        }

        using var reader = new JournalReader(new SqliteJournalDialect(ConnectionString, WriterUuid));
        List<JournalReader.Row> Replay(long from, long to, long max)
        {
            var rows = new List<JournalReader.Row>();
            reader.Replay("p", from, to, max, rows.Add);
            return rows;
        }

        var all = Replay(1, long.MaxValue, long.MaxValue);
        Assert.Equal(new long[] { 4, 5, 6, 7, 8, 9, 10 }, all.Select(r => r.SequenceNr));
        Assert.All(all, r =>
        {
            Assert.Equal(Payload("p", r.SequenceNr), r.Message);
            Assert.Equal("test-manifest", r.Manifest);
            Assert.Equal(42, r.SerializerId);
            Assert.Equal(WriterUuid, r.WriterUuid);
            Assert.Equal(Created(r.SequenceNr), r.Created);
        });
        Assert.Equal(new long[] { 5, 6 }, Replay(5, 8, 2).Select(r => r.SequenceNr));
        Assert.Empty(Replay(1, 3, long.MaxValue));
        Assert.Empty(Replay(5, 8, 0));

        Assert.Equal(10, reader.HighestSequenceNr("p", 0));
        // With every row deleted the marked one keeps the highest sequence number readable.
        using (var writer = NewWriter())
        {
            await JournalTasks.OffWriter(writer.Delete("p", 10));
        }

        Assert.Empty(Replay(1, long.MaxValue, long.MaxValue));
        Assert.Equal(10, reader.HighestSequenceNr("p", 0));
        Assert.Equal(0, reader.HighestSequenceNr("never-written", 0));
    }

    [Fact]
    public async Task A_delete_runs_only_once_no_write_is_waiting()
    {
        using var writer = NewWriter();
        Task<IImmutableList<Exception>?> first, second;
        Task delete;
        using (var tx = _db.BeginTransaction(deferred: false))
        {
            // The writer wakes up to a queued write and waits in its commit; the delete and the
            // second write are queued behind it. A delete up to 2 tells the order apart: run after
            // the second write it marks row 2 and removes row 1; run before it, it would keep row 1
            // (then the highest marked) and row 2 would come in unmarked.
            first = writer.Write(Write("d", 1));
            delete = writer.Delete("d", 2);
            second = writer.Write(Write("d", 2));
            tx.Rollback();
        }

        await JournalTasks.OffWriter(Task.WhenAll(first, second, delete));
        var rows = Rows("persistence_id = 'd'");
        Assert.Equal(2, Assert.Single(rows).SequenceNr);
        Assert.True(rows[0].Deleted);
    }

    [Fact]
    public async Task A_commit_slower_than_50_ms_is_logged_with_its_writer()
    {
        using var writer = NewWriter();
        Task<IImmutableList<Exception>?> write;
        using (var tx = _db.BeginTransaction(deferred: false))
        {
            write = writer.Write(Write("slow-queue", 1));
            // The stimulus: the write lock held for 200 ms, so the commit cannot take less.
            await Task.Delay(TimeSpan.FromMilliseconds(200));
            Assert.False(write.IsCompleted, "the write cannot commit while the lock is held");
            tx.Rollback();
        }

        Assert.Null(await JournalTasks.OffWriter(write));
        string warning = await _warnings.WaitForAsync(w => w.Contains("slow write"), "about the slow write", Timeout);
        Assert.Contains("journal: slow write", warning);
        Assert.Contains("slow-queue", warning);
        Assert.Contains("1 row(s)", warning);
    }

    private static string Pid(int p) => $"pid-{p:00}";

    private static long Created(long seq) => 638_000_000_000_000_000 + seq;

    private static byte[] Payload(string persistenceId, long seq) => Encoding.UTF8.GetBytes($"{persistenceId}/{seq}");

    private static PendingWrite Write(string persistenceId, long seq) =>
        new([new JournalRecord(persistenceId, seq, Created(seq), Payload(persistenceId, seq), "test-manifest", 42)], null);

    private void AssertUntouched(string persistenceId)
    {
        var rows = Rows($"persistence_id = '{persistenceId}'");
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), rows.Select(r => r.SequenceNr));
        Assert.All(rows, r => Assert.False(r.Deleted));
    }

    private void Execute(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private long Scalar(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        return (long)cmd.ExecuteScalar()!;
    }

    private List<long> Longs(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        using var reader = cmd.ExecuteReader();
        var values = new List<long>();
        while (reader.Read())
        {
            values.Add(reader.GetInt64(0));
        }

        return values;
    }

    private List<JournalRow> Rows(string where = "1 = 1")
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT ordering, created, deleted, persistence_id, sequence_number, message, manifest, identifier, writer_uuid " +
                          $"FROM journal WHERE {where} ORDER BY persistence_id, sequence_number";
        using var reader = cmd.ExecuteReader();
        var rows = new List<JournalRow>();
        while (reader.Read())
        {
            rows.Add(new JournalRow(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2) != 0, reader.GetString(3), reader.GetInt64(4),
                (byte[])reader.GetValue(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetInt64(7),
                reader.IsDBNull(8) ? null : reader.GetString(8)));
        }

        return rows.OrderBy(r => r.Ordering).ToList();
    }

    /// <summary>
    /// Transactions committed into the WAL file so far: frames whose header carries the database
    /// size after the commit, which only a transaction's last frame does (sqlite.org/fileformat.html,
    /// "WAL File Format"). The WAL never starts over here (no checkpoint: it stays far below 1000
    /// pages and <see cref="_db"/> keeps it open), so every commit since the file was created is in it.
    /// </summary>
    private int WalCommits()
    {
        using var wal = new FileStream(DbPath + "-wal", FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        Span<byte> header = stackalloc byte[32];
        wal.ReadExactly(header);
        uint pageSize = BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
        uint salt1 = BinaryPrimitives.ReadUInt32BigEndian(header[16..]), salt2 = BinaryPrimitives.ReadUInt32BigEndian(header[20..]);
        Span<byte> frame = stackalloc byte[24];
        int commits = 0;
        while (wal.Position + frame.Length + pageSize <= wal.Length)
        {
            wal.ReadExactly(frame);
            // Frames of an earlier generation of the file carry other salts: the log ends there.
            if (BinaryPrimitives.ReadUInt32BigEndian(frame[8..]) != salt1 || BinaryPrimitives.ReadUInt32BigEndian(frame[12..]) != salt2)
            {
                break;
            }

            if (BinaryPrimitives.ReadUInt32BigEndian(frame[4..]) != 0)
            {
                commits++;
            }

            wal.Seek(pageSize, SeekOrigin.Current);
        }

        return commits;
    }

    private sealed record JournalRow(long Ordering, long Created, bool Deleted, string PersistenceId, long SequenceNr, byte[] Message,
        string? Manifest, long? Identifier, string? WriterUuid);
}

/// <summary>
/// The journal's write path against a real PostgreSQL server: through a real actor system whose
/// journal is GroupCommitJournal (tables created by Akka.Persistence.Sql itself, as on a node),
/// persistent actors write, recover and delete, and a recovery waits for the writes queued before
/// it; and JournalWriter with PostgresJournalDialect driven directly. A table lock makes writes
/// pile up: an INSERT waits for LOCK TABLE ... IN EXCLUSIVE MODE, a SELECT does not.
/// </summary>
[Collection("postgres")]
public sealed class PostgresJournalWriterTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly PostgresFixture _postgres;
    private readonly string _database = "journal_writer_" + Guid.NewGuid().ToString("N")[..12];
    private readonly string _dataDir = Directory.CreateTempSubdirectory("broker-journal-writer-pg-").FullName;
    private string _connectionString = string.Empty;

    /// <summary>The first actor system: its journal created the tables; its logger is the direct writers' log.</summary>
    private ActorSystem _system = null!;
    private JournalWarnings _warnings = null!;

    public PostgresJournalWriterTests(PostgresFixture postgres) => _postgres = postgres;

    public async Task InitializeAsync()
    {
        // A database of its own per test: persistence ids repeat across tests.
        await _postgres.Server.PsqlAsync($"CREATE DATABASE {_database}");
        _connectionString = new NpgsqlConnectionStringBuilder(_postgres.ConnectionString) { Database = _database }.ConnectionString;
        _system = await StartSystemAsync("journal-pg-1");
        _warnings = new JournalWarnings(_system);
    }

    public async Task DisposeAsync()
    {
        await _system.Terminate().WaitAsync(Timeout);
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    /// <summary>
    /// An actor system with the node's journal settings for PostgreSQL (JournalConfig, fence off:
    /// the fence is not what this examines), started the way a node starts it: a recovery of an
    /// empty id, which is when the plugin creates its tables.
    /// </summary>
    private async Task<ActorSystem> StartSystemAsync(string name)
    {
        var broker = ConfigurationFactory.ParseString(
            "broker.journal.provider = postgresql\n" +
            $"broker.journal.connection-string = {BrokerConfig.Quote(_connectionString)}\n" +
            "broker.cluster.fence = off");
        var journal = JournalConfig.From(broker, _dataDir, name);
        // Spelled out as well: these tests are about this class, whatever JournalConfig comes to say.
        var config = ConfigurationFactory.ParseString("akka.persistence.journal.sql.class = \"Broker.Node.Journal.GroupCommitJournal, Broker.Node\"")
            .WithFallback(journal.Akka)
            .WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration);
        var system = ActorSystem.Create(name, config);
        var warmedUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        system.ActorOf(Props.Create(() => new JournalWarmUp(warmedUp)));
        await Wait.For(warmedUp.Task, TimeSpan.FromSeconds(60));
        return system;
    }

    [Fact]
    public async Task Persistent_actors_write_concurrently_recover_their_events_in_order_and_delete_as_the_plugin_does()
    {
        const int Actors = 20, Events = 50;
        var pids = Enumerable.Range(0, Actors).Select(i => $"writer-{i:00}").ToArray();
        string Event(string pid, int n) => $"{pid}-event-{n}";

        // 20 actors writing at once, each one event per write as Persist does, so their writes meet in
        // the writer's queue.
        var writers = pids.Select(pid => (Signals: new JournalActorSignals(Events), Pid: pid)).ToList();
        var refs = writers.Select(w => _system.ActorOf(JournalEventActor.PropsFor(w.Pid, w.Signals))).ToList();
        for (int n = 1; n <= Events; n++)
        {
            for (int i = 0; i < Actors; i++)
            {
                refs[i].Tell(Event(pids[i], n));
            }
        }

        await Wait.For(Task.WhenAll(writers.Select(w => w.Signals.Persisted.Task)), Timeout);
        await _system.Terminate().WaitAsync(Timeout);

        Assert.Equal(Actors * Events, await CountAsync("SELECT COUNT(*) FROM journal WHERE persistence_id LIKE 'writer-%' AND NOT deleted"));

        // A fresh actor system on the same database: each actor gets exactly its own events, in order.
        var second = await StartSystemAsync("journal-pg-2");
        try
        {
            var recovered = await RecoverAsync(second, pids);
            for (int i = 0; i < Actors; i++)
            {
                Assert.Equal(Enumerable.Range(1, Events).Select(n => Event(pids[i], n)), recovered[i].Events);
                Assert.Equal(Events, recovered[i].LastSequenceNr);
            }

            // Deletes through the journal: up to 30 on one actor, everything on another.
            var partly = new JournalActorSignals(0);
            var wholly = new JournalActorSignals(0);
            var partlyRef = second.ActorOf(JournalEventActor.PropsFor(pids[0], partly));
            var whollyRef = second.ActorOf(JournalEventActor.PropsFor(pids[1], wholly));
            await Wait.For(Task.WhenAll(partly.Recovered.Task, wholly.Recovered.Task), Timeout);
            partlyRef.Tell(new JournalDeleteUpTo(30));
            whollyRef.Tell(new JournalDeleteUpTo(Events));
            Assert.Equal(30, await Wait.For(partly.Deleted.Task, Timeout));
            Assert.Equal(Events, await Wait.For(wholly.Deleted.Task, Timeout));
        }
        finally
        {
            await second.Terminate().WaitAsync(Timeout);
        }

        // The plugin's delete: the highest deleted row stays, marked, so the highest sequence number
        // is still known.
        Assert.Equal("30:t,31:f,32:f,33:f,34:f,35:f,36:f,37:f,38:f,39:f,40:f,41:f,42:f,43:f,44:f,45:f,46:f,47:f,48:f,49:f,50:f",
            await RowsAsync(pids[0]));
        Assert.Equal("50:t", await RowsAsync(pids[1]));

        var third = await StartSystemAsync("journal-pg-3");
        try
        {
            var recovered = await RecoverAsync(third, pids[..3]);
            Assert.Equal(Enumerable.Range(31, 20).Select(n => Event(pids[0], n)), recovered[0].Events);
            Assert.Equal(Events, recovered[0].LastSequenceNr);
            Assert.Empty(recovered[1].Events);
            Assert.Equal(Events, recovered[1].LastSequenceNr);
            Assert.Equal(Enumerable.Range(1, Events).Select(n => Event(pids[2], n)), recovered[2].Events);

            // The actor whose events all went goes on from 51, not from 1.
            var signals = new JournalActorSignals(Events + 1);
            var again = third.ActorOf(JournalEventActor.PropsFor(pids[1], signals));
            again.Tell("after-the-delete");
            await Wait.For(signals.Persisted.Task, Timeout);
        }
        finally
        {
            await third.Terminate().WaitAsync(Timeout);
        }

        Assert.Equal("50:t,51:f", await RowsAsync(pids[1]));
        // What a node lists at start-up to recover: every id once, the warm-up's recovery wrote none.
        var ids = await new JournalIndex("PostgreSQL.15", _connectionString).PersistenceIdsAsync(CancellationToken.None);
        Assert.Equal(pids, ids.Order());
    }

    [Fact]
    public async Task A_failed_group_is_retried_write_by_write_so_only_the_duplicate_fails()
    {
        using var writer = new JournalWriter(new PostgresJournalDialect(_connectionString, "pg-writer-under-test"), _warnings.Log);
        Assert.Null(await JournalTasks.OffWriter(writer.Write(Write("p", 2, "original"))));

        PendingWrite first = Write("p", 1), duplicate = Write("p", 2, "duplicate"), other = Write("q", 1);
        await using (var holder = await OpenAsync())
        await using (var tx = await holder.BeginTransactionAsync())
        {
            // While the table is locked the writer's INSERT waits: the three are all queued before
            // the writer can take a second group, so the duplicate shares a group with another write.
            await ExecuteAsync(holder, "LOCK TABLE journal IN EXCLUSIVE MODE");
            _ = writer.Write(first);
            _ = writer.Write(duplicate);
            _ = writer.Write(other);
            await tx.RollbackAsync();
        }

        Assert.Null(await JournalTasks.OffWriter(first.Task));
        Assert.Null(await JournalTasks.OffWriter(other.Task));
        var refused = await Assert.ThrowsAsync<PostgresException>(() => JournalTasks.OffWriter(duplicate.Task));
        Assert.Equal(PostgresErrorCodes.UniqueViolation, refused.SqlState);
        await _warnings.WaitForAsync(w => w.Contains("failed") && w.Contains("one by one"), "about the failed group", Timeout);

        Assert.Equal("p/1:p/1,p/2:original,q/1:q/1", await ScalarAsync<string>(
            "SELECT string_agg(persistence_id || '/' || sequence_number || ':' || convert_from(message, 'UTF8'), ',' " +
            "ORDER BY persistence_id, sequence_number) FROM journal"));
    }

    /// <summary>
    /// A commit whose session dies (outcome unknown to the writer) fails its group once: no reconnect
    /// and retry per write, none of its rows is in the table, and the next write opens a new session.
    /// (Which writes share the ended group depends on timing; the test holds for any split.)
    /// </summary>
    [Fact]
    public async Task A_group_whose_session_is_ended_fails_once_and_the_writer_reconnects()
    {
        using var writer = new JournalWriter(new PostgresJournalDialect(_connectionString, "pg-writer-under-test"), _warnings.Log);
        Assert.Null(await JournalTasks.OffWriter(writer.Write(Write("warm", 1))));

        PendingWrite a = Write("a", 1), b = Write("b", 1), c = Write("c", 1);
        await using (var holder = await OpenAsync())
        await using (var tx = await holder.BeginTransactionAsync())
        {
            await ExecuteAsync(holder, "LOCK TABLE journal IN EXCLUSIVE MODE");
            _ = writer.Write(a);
            _ = writer.Write(b);
            _ = writer.Write(c);
            // The writer's INSERT waits for the lock; end its session as a claim would.
            await Wait.Until(async () => await ScalarAsync<long>(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO journal%'") > 0,
                "the writer waiting for the table lock");
            await ExecuteAsync(holder, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity " +
                                       "WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO journal%'");
            await tx.RollbackAsync();
        }

        // The first group always holds a (the writer woke for it); b and c joined it only if they were
        // queued before the writer took it, otherwise they went in a later group after the lock was
        // released. The ended group fails as a whole, and none of it is retried: a retried a would commit.
        var failedA = await Assert.ThrowsAnyAsync<NpgsqlException>(() => JournalTasks.OffWriter(a.Task));
        Assert.False(failedA is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation }, failedA.Message);
        foreach (var (write, pid) in new[] { (b, "b"), (c, "c") })
        {
            bool written = await JournalTasks.OffWriter(write.Task).ContinueWith(t => t.IsCompletedSuccessfully);
            Assert.Equal(written ? 1 : 0, await CountAsync($"SELECT count(*) FROM journal WHERE persistence_id = '{pid}'"));
        }

        await _warnings.WaitForAsync(w => w.Contains("a commit of") && w.Contains("failed:"), "about the failed group", Timeout);
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM journal WHERE persistence_id = 'a'"));
        Assert.Null(await JournalTasks.OffWriter(writer.Write(Write("a", 1))));
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM journal WHERE persistence_id = 'a'"));
    }

    [Fact]
    public async Task Writes_queued_during_a_commit_share_one_transaction_in_arrival_order()
    {
        using var writer = new JournalWriter(new PostgresJournalDialect(_connectionString, "pg-writer-under-test"), _warnings.Log);

        // A row's xmin is the transaction that inserted it: two writes awaited one after the other
        // are two transactions (else counting xmins would prove nothing).
        Assert.Null(await JournalTasks.OffWriter(writer.Write(Write("lone", 1))));
        Assert.Null(await JournalTasks.OffWriter(writer.Write(Write("lone", 2))));
        Assert.Equal(2, await CountAsync("SELECT COUNT(DISTINCT xmin::text) FROM journal WHERE persistence_id = 'lone'"));

        Task<IImmutableList<Exception>?>[][] queued;
        await using (var holder = await OpenAsync())
        await using (var tx = await holder.BeginTransactionAsync())
        {
            await ExecuteAsync(holder, "LOCK TABLE journal IN EXCLUSIVE MODE");
            queued = await Task.WhenAll(Enumerable.Range(0, 20).Select(p => Task.Run(() =>
                Enumerable.Range(1, 5).Select(seq => writer.Write(Write($"group-{p:00}", seq))).ToArray())));
            Assert.DoesNotContain(queued.SelectMany(w => w), w => w.IsCompleted);
            await tx.RollbackAsync();
        }

        Assert.All(await JournalTasks.OffWriter(Task.WhenAll(queued.SelectMany(w => w))), r => Assert.Null(r));
        Assert.Equal(100, await CountAsync("SELECT COUNT(*) FROM journal WHERE persistence_id LIKE 'group-%'"));
        // The writer's first group is what it found when it woke up; the rest went in the next one.
        Assert.InRange(await CountAsync("SELECT COUNT(DISTINCT xmin::text) FROM journal WHERE persistence_id LIKE 'group-%'"), 1, 2);
        // Each writer's rows in its own order.
        Assert.Equal(0, await CountAsync(
            "SELECT COUNT(*) FROM journal a JOIN journal b ON a.persistence_id = b.persistence_id " +
            "WHERE a.persistence_id LIKE 'group-%' AND a.sequence_number < b.sequence_number AND a.ordering > b.ordering"));
    }

    /// <summary>
    /// The journal contract's rejection: an event that cannot be serialized is rejected (the actor is
    /// told and goes on), nothing of it is written, and the actor's later events are.
    /// </summary>
    [Fact]
    public async Task An_event_that_cannot_be_serialized_is_rejected_and_the_actor_goes_on()
    {
        var writing = await StartSystemAsync("rejections-write");
        var signals = new JournalRejectionSignals();
        try
        {
            var actor = writing.ActorOf(Props.Create(() => new JournalRejectionActor("rejecting", signals)));
            actor.Tell("before");
            actor.Tell(new JournalUnserializableEvent());
            actor.Tell("after");
            var rejected = await Wait.For(signals.Rejected.Task, Timeout);
            Assert.Contains("cannot be serialized", rejected.ToString());
            Assert.Equal(3, await Wait.For(signals.After.Task, Timeout));
        }
        finally
        {
            await writing.Terminate();
        }

        var reading = await StartSystemAsync("rejections-read");
        try
        {
            var (events, last) = (await RecoverAsync(reading, ["rejecting"]))[0];
            Assert.Equal(["before", "after"], events);
            Assert.Equal(3, last);
        }
        finally
        {
            await reading.Terminate();
        }
    }

    [Fact]
    public async Task A_recovering_actor_learns_its_highest_sequence_number_only_after_the_writes_queued_before_it()
    {
        var earlier = new JournalActorSignals(1);
        var first = _system.ActorOf(JournalEventActor.PropsFor("barrier", earlier));
        await Wait.For(earlier.Recovered.Task, Timeout);

        var later = new JournalActorSignals(0);
        await using (var holder = await OpenAsync())
        await using (var tx = await holder.BeginTransactionAsync())
        {
            // Inserts wait for this lock; the plugin's reads (SELECTs) do not.
            await ExecuteAsync(holder, "LOCK TABLE journal IN EXCLUSIVE MODE");
            // The first incarnation's write is sent to the journal (PersistAsync: the actor goes on,
            // and answers the ping after it) and waits in the writer for the lock.
            first.Tell(new JournalPersistAsync("written-before"));
            await first.Ask<JournalPong>(new JournalPing(), Timeout);
            // A second incarnation starts now: its recovery reaches the journal after that write.
            _system.ActorOf(JournalEventActor.PropsFor("barrier", later));
            // The stimulus: the lock held 500 ms more. Nothing but the journal's barrier keeps the
            // recovery from reading the highest sequence number (0) meanwhile.
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            Assert.False(later.Recovered.Task.IsCompleted, "the recovery finished while a write queued before it was still waiting");
            await tx.RollbackAsync();
        }

        await Wait.For(earlier.Persisted.Task, Timeout);
        var recovered = await Wait.For(later.Recovered.Task, Timeout);
        Assert.Equal(new[] { "written-before" }, recovered.Events);
        Assert.Equal(1, recovered.LastSequenceNr);
    }

    private static PendingWrite Write(string persistenceId, long seq, string? payload = null) =>
        new([new JournalRecord(persistenceId, seq, DateTime.UtcNow.Ticks, Encoding.UTF8.GetBytes(payload ?? $"{persistenceId}/{seq}"), "test-manifest", 42)], null);

    private static async Task<List<(List<string> Events, long LastSequenceNr)>> RecoverAsync(ActorSystem system, IEnumerable<string> pids)
    {
        var signals = pids.Select(pid => (Pid: pid, Signals: new JournalActorSignals(0))).ToList();
        foreach (var (pid, s) in signals)
        {
            system.ActorOf(JournalEventActor.PropsFor(pid, s));
        }

        return (await Wait.For(Task.WhenAll(signals.Select(s => s.Signals.Recovered.Task)), Timeout)).ToList();
    }

    /// <summary>A persistence id's rows as "seq:t|f" (deleted), in order.</summary>
    private async Task<string> RowsAsync(string persistenceId) =>
        await ScalarAsync<string>(
            "SELECT string_agg(sequence_number || ':' || CASE WHEN deleted THEN 't' ELSE 'f' END, ',' ORDER BY sequence_number) " +
            $"FROM journal WHERE persistence_id = '{persistenceId}'") ?? string.Empty;

    private async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(_connectionString + ";Pooling=false");
        await connection.OpenAsync();
        return connection;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        await cmd.ExecuteNonQueryAsync();
    }

    private async Task<T?> ScalarAsync<T>(string sql)
    {
        await using var connection = await OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        object? value = await cmd.ExecuteScalarAsync();
        return value is DBNull or null ? default : (T)value;
    }

    private async Task<long> CountAsync(string sql) => await ScalarAsync<long>(sql);
}

/// <summary>Asks a <see cref="JournalEventActor"/> to delete its events up to a sequence number.</summary>
internal sealed record JournalDeleteUpTo(long SequenceNr);

/// <summary>Asks a <see cref="JournalEventActor"/> to persist an event with PersistAsync (it goes on taking commands meanwhile).</summary>
internal sealed record JournalPersistAsync(string Event);

/// <summary>Answered with <see cref="JournalPong"/> once every command sent before it was handled.</summary>
internal sealed record JournalPing;

internal sealed record JournalPong;

/// <summary>What a <see cref="JournalEventActor"/> reports to the test.</summary>
internal sealed class JournalActorSignals(long persistUpTo)
{
    public long PersistUpTo { get; } = persistUpTo;

    public TaskCompletionSource Persisted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource<(List<string> Events, long LastSequenceNr)> Recovered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource<long> Deleted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>Recovers its string events, persists each string it is sent (one event per write), deletes on request.</summary>
internal sealed class JournalEventActor : ReceivePersistentActor
{
    private readonly JournalActorSignals _signals;
    private readonly List<string> _events = new();

    public JournalEventActor(string persistenceId, JournalActorSignals signals)
    {
        PersistenceId = persistenceId;
        _signals = signals;
        Recover<string>(e => _events.Add(e));
        Recover<RecoveryCompleted>(_ => _signals.Recovered.TrySetResult((_events.ToList(), LastSequenceNr)));
        Command<string>(e => Persist(e, _ => Persisted()));
        Command<JournalPersistAsync>(c => PersistAsync(c.Event, _ => Persisted()));
        Command<JournalPing>(_ => Sender.Tell(new JournalPong()));
        Command<JournalDeleteUpTo>(d => DeleteMessages(d.SequenceNr));
        Command<DeleteMessagesSuccess>(s => _signals.Deleted.TrySetResult(s.ToSequenceNr));
        Command<DeleteMessagesFailure>(f => _signals.Deleted.TrySetException(f.Cause));
    }

    public override string PersistenceId { get; }

    public static Props PropsFor(string persistenceId, JournalActorSignals signals) => Props.Create(() => new JournalEventActor(persistenceId, signals));

    private void Persisted()
    {
        if (LastSequenceNr == _signals.PersistUpTo)
        {
            _signals.Persisted.TrySetResult();
        }
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _signals.Persisted.TrySetException(cause);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _signals.Persisted.TrySetException(cause);
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _signals.Recovered.TrySetException(reason);
        base.OnRecoveryFailure(reason, message);
    }
}

/// <summary>Waiting for a JournalWriter's tasks from a test.</summary>
internal static class JournalTasks
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Waits (with a bound) for a task the writer completes, and goes on on the thread pool. A
    /// write's task completes on the writer thread and runs what awaits it right there
    /// (PendingWrite's inline completion): a test awaiting it without a synchronization context
    /// would go on running on the writer thread, holding up the writes after it, and its
    /// writer.Dispose() would join the writer thread from itself (10 s lost).
    /// </summary>
    public static async Task<T> OffWriter<T>(Task<T> task)
    {
        await OffWriter((Task)task);
        return await task;
    }

    public static async Task OffWriter(Task task)
    {
        // A continuation without ExecuteSynchronously is queued to the thread pool, never run
        // inline where the task completes: the test goes on on a pool thread.
        await task.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).WaitAsync(Timeout);
        // Completed by now: this rethrows its exception, if any, without waiting.
        await task;
    }
}

/// <summary>
/// A real Akka logging adapter for a JournalWriter, and every Warning the actor system's event
/// stream carries, for a test to wait on (with a bound).
/// </summary>
internal sealed class JournalWarnings
{
    private readonly Channel<string> _seen = Channel.CreateUnbounded<string>();

    public JournalWarnings(ActorSystem system)
    {
        var writer = _seen.Writer;
        var collector = system.ActorOf(Props.Create(() => new Collector(writer)));
        system.EventStream.Subscribe(collector, typeof(Warning));
        Log = Logging.GetLogger(system, "journal-writer-test");
    }

    public ILoggingAdapter Log { get; }

    public async Task<string> WaitForAsync(Func<string, bool> match, string what, TimeSpan timeout)
    {
        var seen = new List<string>();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                string message = await _seen.Reader.ReadAsync(cts.Token);
                seen.Add(message);
                if (match(message))
                {
                    return message;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no warning {what} within {timeout.TotalSeconds:0} s; warnings seen:\n{string.Join("\n", seen)}");
        }
    }

    private sealed class Collector : ReceiveActor
    {
        public Collector(ChannelWriter<string> seen) => Receive<Warning>(w => seen.TryWrite(w.Message?.ToString() ?? string.Empty));
    }
}

/// <summary>An event Akka's default (JSON) serializer cannot write: reading its property throws.</summary>
internal sealed class JournalUnserializableEvent
{
    public string Value => throw new InvalidOperationException("this event cannot be serialized");
}

internal sealed class JournalRejectionSignals
{
    public TaskCompletionSource<Exception> Rejected { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The sequence number of the event "after", once written.</summary>
    public TaskCompletionSource<long> After { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>Persists whatever it is sent, one event per write, and reports rejections.</summary>
internal sealed class JournalRejectionActor : ReceivePersistentActor
{
    private readonly JournalRejectionSignals _signals;

    public JournalRejectionActor(string persistenceId, JournalRejectionSignals signals)
    {
        PersistenceId = persistenceId;
        _signals = signals;
        Recover<object>(_ => { });
        Command<string>(e => Persist(e, written =>
        {
            if (written == "after")
            {
                _signals.After.TrySetResult(LastSequenceNr);
            }
        }));
        Command<JournalUnserializableEvent>(e => Persist(e, _ => { }));
    }

    public override string PersistenceId { get; }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _signals.Rejected.TrySetResult(cause);
        base.OnPersistRejected(cause, @event, sequenceNr);
    }
}
