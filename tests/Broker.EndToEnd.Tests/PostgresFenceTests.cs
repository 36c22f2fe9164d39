using Broker.Actors.Cluster;
using Broker.Node;
using Npgsql;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// The database side of fencing (PostgresFence and its schema) against a real PostgreSQL server:
/// who may write a queue's journal, what a take-over does to the node it takes from, and what
/// renewals report about peers. Journal rows are written here the way the journal plugin writes
/// them: plain inserts on sessions whose application_name is the writing node's incarnation.
/// </summary>
[Collection("postgres")]
public sealed class PostgresFenceTests : IAsyncLifetime
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(1);
    private readonly PostgresFixture _postgres;
    private readonly List<PostgresFence> _fences = new();
    private readonly string _database = "fence_" + Guid.NewGuid().ToString("N")[..12];
    private string _connectionString = string.Empty;

    public PostgresFenceTests(PostgresFixture postgres) => _postgres = postgres;

    public async Task InitializeAsync()
    {
        await _postgres.Server.PsqlAsync($"CREATE DATABASE {_database}");
        _connectionString = new NpgsqlConnectionStringBuilder(_postgres.ConnectionString) { Database = _database }.ConnectionString;
        // The tables the journal plugin creates, with the columns the fence reads.
        await ExecuteAsync("test",
            "CREATE TABLE journal (ordering bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, persistence_id text NOT NULL, " +
            "sequence_number bigint NOT NULL, deleted boolean NOT NULL DEFAULT false, message bytea, UNIQUE (persistence_id, sequence_number));" +
            "CREATE TABLE snapshot (persistence_id text NOT NULL, sequence_number bigint NOT NULL, snapshot bytea, PRIMARY KEY (persistence_id, sequence_number));");
    }

    public async Task DisposeAsync()
    {
        foreach (var f in _fences)
        {
            await f.DisposeAsync();
        }
    }

    private async Task<PostgresFence> RegisterAsync(string incarnation, TimeSpan? lease = null)
    {
        var fence = new PostgresFence(PostgresFence.ForIncarnation(_connectionString, incarnation), incarnation, lease ?? Lease);
        _fences.Add(fence);
        // The fence connects with a timeout of one lease (1 s here); on a loaded CI machine opening a
        // PostgreSQL session can take longer. Registration is not what these tests examine: try it
        // up to three times.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await fence.RegisterAsync($"akka.tcp://broker@127.0.0.1:{40000 + _fences.Count}", _fences.Count, incarnation, CancellationToken.None);
                return fence;
            }
            catch (Npgsql.NpgsqlException e) when (attempt < 3 && e.InnerException is TimeoutException)
            {
            }
        }
    }

    /// <summary>
    /// Claims again after the wait a first claim returned, as QueueActor does: a timer may fire up to a
    /// millisecond early (its clock ticks in whole milliseconds), so the lease can have that much left.
    /// </summary>
    private static async Task<ClaimOutcome> ClaimOnceTheLeaseRunsOutAsync(PostgresFence fence, string persistenceId, TimeSpan wait)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            await Task.Delay(wait);
            var claim = await fence.ClaimAsync(persistenceId, CancellationToken.None);
            if (claim.Wait == TimeSpan.Zero)
            {
                return claim;
            }

            Assert.True(claim.Wait <= TimeSpan.FromMilliseconds(5), $"the lease still had {claim.Wait} left after the wait it gave");
            wait = claim.Wait;
        }

        throw new Xunit.Sdk.XunitException("the claim never went through after its lease ran out");
    }

    private async Task ExecuteAsync(string incarnation, string sql)
    {
        await using var c = new NpgsqlConnection(PostgresFence.ForIncarnation(_connectionString, incarnation) + ";Pooling=false");
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }

    private async Task<string?> OwnerAsync(string persistenceId)
    {
        await using var c = new NpgsqlConnection(_connectionString + ";Pooling=false");
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"SELECT incarnation FROM broker_owners WHERE persistence_id = '{persistenceId}'", c);
        return await cmd.ExecuteScalarAsync() as string;
    }

    private Task WriteAsync(string incarnation, string persistenceId, long seq) =>
        ExecuteAsync(incarnation, $"INSERT INTO journal (persistence_id, sequence_number, message) VALUES ('{persistenceId}', {seq}, '\\x00')");

    private static async Task AssertRefusedAsync(Func<Task> write)
    {
        var e = await Assert.ThrowsAsync<PostgresException>(write);
        Assert.Equal("P0001", e.SqlState);
        Assert.Contains("refused", e.MessageText);
    }

    [Fact]
    public async Task A_queues_journal_takes_writes_only_from_its_owner()
    {
        var a = await RegisterAsync("broker-a");
        var claim = await a.ClaimAsync("queue-q", CancellationToken.None);
        Assert.Equal(TimeSpan.Zero, claim.Wait);
        Assert.Null(claim.Previous);

        await WriteAsync("broker-a", "queue-q", 1);
        await AssertRefusedAsync(() => WriteAsync("broker-b", "queue-q", 2));
        await AssertRefusedAsync(() => ExecuteAsync("broker-b", "DELETE FROM journal WHERE persistence_id = 'queue-q'"));
        await AssertRefusedAsync(() => ExecuteAsync("broker-b", "UPDATE journal SET deleted = true WHERE persistence_id = 'queue-q'"));
        await AssertRefusedAsync(() => ExecuteAsync("broker-b", "INSERT INTO snapshot VALUES ('queue-q', 1, '\\x00')"));
        // Exchanges and sharding's own stores are not queues: not checked.
        await WriteAsync("broker-b", "exchange-/|x", 1);
        // Nor are sessions of nodes that run without the fence (their sessions carry no incarnation).
        await WriteAsync("", "queue-q", 5);
        await ExecuteAsync("broker-a", "UPDATE journal SET deleted = true WHERE persistence_id = 'queue-q'");
    }

    [Fact]
    public async Task Taking_a_queue_from_a_live_node_fences_it_and_waits_out_its_lease()
    {
        var a = await RegisterAsync("broker-a");
        await a.ClaimAsync("queue-q", CancellationToken.None);
        await WriteAsync("broker-a", "queue-q", 1);
        await WriteAsync("broker-a", "queue-q", 2);
        Assert.False((await a.RenewAsync(TimeSpan.FromSeconds(1), CancellationToken.None)).Fenced);

        var b = await RegisterAsync("broker-b");
        var first = await b.ClaimAsync("queue-q", CancellationToken.None);
        Assert.Equal("broker-a", first.Previous);
        Assert.True(first.Wait > TimeSpan.Zero && first.Wait <= Lease + TimeSpan.FromMilliseconds(100), $"wait {first.Wait}");
        // Not taken yet: the old owner may still write, but it may renew its lease no more.
        await WriteAsync("broker-a", "queue-q", 3);
        Assert.True((await a.RenewAsync(TimeSpan.FromSeconds(1), CancellationToken.None)).Fenced);

        var taken = await ClaimOnceTheLeaseRunsOutAsync(b, "queue-q", first.Wait);
        Assert.Equal(3, taken.HighestSequenceNr);
        Assert.Equal("broker-a", taken.Previous);

        await AssertRefusedAsync(() => WriteAsync("broker-a", "queue-q", 4));
        await WriteAsync("broker-b", "queue-q", 4);
        // A fenced node takes nothing back (its pooled sessions were ended by the take-over: the
        // first attempt may meet one of those).
        var e = await Assert.ThrowsAsync<PostgresException>(async () =>
        {
            try
            {
                await a.ClaimAsync("queue-q", CancellationToken.None);
            }
            catch (PostgresException ended) when (ended.SqlState == PostgresErrorCodes.AdminShutdown)
            {
                await a.ClaimAsync("queue-q", CancellationToken.None);
            }
        });
        Assert.Contains("fenced", e.MessageText);
    }

    [Fact]
    public async Task A_take_over_waits_for_the_old_owners_write_in_flight_and_rolls_back_an_open_one()
    {
        var a = await RegisterAsync("broker-a");
        await a.ClaimAsync("queue-q", CancellationToken.None);
        await WriteAsync("broker-a", "queue-q", 1);
        // A frozen node in the middle of a journal write: its transaction stays open.
        var open = new NpgsqlConnection(PostgresFence.ForIncarnation(_connectionString, "broker-a") + ";Pooling=false");
        await open.OpenAsync();
        var tx = await open.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand("INSERT INTO journal (persistence_id, sequence_number, message) VALUES ('queue-q', 2, '\\x00')", open, tx))
        {
            await insert.ExecuteNonQueryAsync();
        }

        var b = await RegisterAsync("broker-b");
        var first = await b.ClaimAsync("queue-q", CancellationToken.None);
        var taken = await ClaimOnceTheLeaseRunsOutAsync(b, "queue-q", first.Wait);
        Assert.Equal(1, taken.HighestSequenceNr);
        // Its session was ended by the take-over: the write never commits.
        await Assert.ThrowsAnyAsync<Exception>(() => tx.CommitAsync());
        await open.DisposeAsync();
    }

    [Fact]
    public async Task A_dead_nodes_queue_is_taken_at_once_and_a_released_queue_fences_nobody()
    {
        var a = await RegisterAsync("broker-a");
        await a.ClaimAsync("queue-dead", CancellationToken.None);
        var claim = await a.ClaimAsync("queue-moved", CancellationToken.None);
        // A release of an older claim (a late one, from an earlier incarnation) changes nothing.
        await a.ReleaseAsync("queue-moved", claim.Epoch - 1, false, CancellationToken.None);
        Assert.Equal("broker-a", await OwnerAsync("queue-moved"));
        await a.ReleaseAsync("queue-moved", claim.Epoch, false, CancellationToken.None);
        Assert.Null(await OwnerAsync("queue-moved"));

        var b = await RegisterAsync("broker-b");
        var moved = await b.ClaimAsync("queue-moved", CancellationToken.None);
        Assert.Null(moved.Previous);
        Assert.False((await a.RenewAsync(TimeSpan.FromSeconds(1), CancellationToken.None)).Fenced);
        Assert.Empty((await b.RenewAsync(TimeSpan.FromSeconds(1), CancellationToken.None)).DeadPeers);

        // The process dies: its session ends and its lock is free at once.
        await a.DisposeAsync();
        _fences.Remove(a);
        var renewal = await b.RenewAsync(TimeSpan.FromSeconds(1), CancellationToken.None);
        Assert.Equal("broker-a", Assert.Single(renewal.DeadPeers).NodeName);
        var dead = await b.ClaimAsync("queue-dead", CancellationToken.None);
        Assert.Equal(TimeSpan.Zero, dead.Wait);
        Assert.Equal("broker-a", dead.Previous);
    }

    [Fact]
    public async Task A_peer_that_stops_renewing_is_reported_silent_once_its_lease_ran_out_by_the_margin()
    {
        var a = await RegisterAsync("broker-a");
        var b = await RegisterAsync("broker-b");
        var silence = TimeSpan.FromMilliseconds(500);
        Assert.Empty((await b.RenewAsync(silence, CancellationToken.None)).SilentPeers);

        // a renews no more (frozen) but its session, and so its lock, lives on.
        await Task.Delay(Lease + silence + TimeSpan.FromMilliseconds(300));
        var renewal = await b.RenewAsync(silence, CancellationToken.None);
        Assert.Equal("broker-a", Assert.Single(renewal.SilentPeers).NodeName);
        Assert.Empty(renewal.DeadPeers);

        Assert.False((await a.RenewAsync(silence, CancellationToken.None)).Fenced);
        Assert.Empty((await b.RenewAsync(silence, CancellationToken.None)).SilentPeers);
    }
}
