using Broker.Actors.Cluster;
using Npgsql;

namespace Broker.Node;

/// <summary>
/// INodeFence on the PostgreSQL database that holds the journal (schema: PostgresFenceSchema).
/// The incarnation's lock and lease live on one session of their own, outside the pool: the
/// server releases the lock when that session's socket closes, which is what tells the peers this
/// process is gone. Claims and releases use pooled sessions named like the journal's.
/// </summary>
public sealed class PostgresFence : INodeFence
{
    private readonly string _sessionConnectionString;
    private readonly string _journalConnectionString;
    private readonly NpgsqlDataSource _pool;
    private NpgsqlConnection? _session;
    private volatile bool _disposed;
    private int _nodeId;
    private string _nodeName = string.Empty;
    private string? _address;
    private long _uid;

    /// <param name="journalConnectionString">The journal's connection string with this incarnation as its application name (see <see cref="ForIncarnation"/>).</param>
    public PostgresFence(string journalConnectionString, string incarnation, TimeSpan leaseDuration)
    {
        Incarnation = incarnation;
        LeaseDuration = leaseDuration;
        // A renewal that hangs is given up after a second (the least Npgsql counts in); the lease
        // keeper suspends the lease long before that (LeaseKeeperActor.RenewalOverdue).
        _sessionConnectionString = new NpgsqlConnectionStringBuilder(journalConnectionString)
        {
            Pooling = false,
            CommandTimeout = 1,
            Timeout = Math.Max(1, (int)leaseDuration.TotalSeconds),
        }.ConnectionString;
        _journalConnectionString = journalConnectionString;
        _pool = NpgsqlDataSource.Create(journalConnectionString);
    }

    public string Incarnation { get; }

    public TimeSpan LeaseDuration { get; }

    /// <summary>
    /// The journal's sessions carry the incarnation as their application_name: that is what the
    /// write trigger compares with a queue's owner. (PostgreSQL keeps 63 bytes of it: incarnation
    /// names are short.)
    /// </summary>
    public static string ForIncarnation(string connectionString, string incarnation) =>
        new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = incarnation }.ConnectionString;

    public async Task RegisterAsync(string address, long uid, string nodeName, CancellationToken ct)
    {
        _address = address;
        _uid = uid;
        _nodeName = nodeName;
        await using (var connection = await _pool.OpenConnectionAsync(ct))
        await using (var tx = await connection.BeginTransactionAsync(ct))
        {
            await using (var install = new NpgsqlCommand(PostgresFenceSchema.Install, connection, tx))
            {
                await install.ExecuteNonQueryAsync(ct);
            }

            await tx.CommitAsync(ct);
        }

        await ConnectAsync(ct);
    }

    /// <summary>Opens the fence session, records the incarnation the first time, and takes its lock.</summary>
    private async Task ConnectAsync(CancellationToken ct)
    {
        var session = new NpgsqlConnection(_sessionConnectionString);
        try
        {
            await session.OpenAsync(ct);
            if (_nodeId == 0)
            {
                await using var insert = new NpgsqlCommand(
                    "DELETE FROM broker_nodes WHERE lease_until < clock_timestamp() - interval '1 day' AND NOT broker_node_alive(id);" +
                    "INSERT INTO broker_nodes (incarnation, node_name, address, uid, lease_until) " +
                    "VALUES (@inc, @name, @address, @uid, clock_timestamp() + @lease) RETURNING id", session);
                insert.Parameters.AddWithValue("inc", Incarnation);
                insert.Parameters.AddWithValue("name", _nodeName);
                insert.Parameters.AddWithValue("address", _address ?? string.Empty);
                insert.Parameters.AddWithValue("uid", _uid);
                insert.Parameters.AddWithValue("lease", LeaseDuration);
                _nodeId = (int)(await insert.ExecuteScalarAsync(ct))!;
            }

            // After a reconnect the old session may not have ended on the server yet: wait for it, briefly.
            await using (var lockCommand = new NpgsqlCommand(
                             "SET lock_timeout = '5s'; SELECT pg_advisory_lock(@space, @id); SET lock_timeout = 0", session))
            {
                lockCommand.Parameters.AddWithValue("space", PostgresFenceSchema.NodeLockSpace);
                lockCommand.Parameters.AddWithValue("id", _nodeId);
                await lockCommand.ExecuteNonQueryAsync(ct);
            }

            if (_disposed)
            {
                // Disposed while this reconnect was under way: the lock must not outlive the node.
                throw new ObjectDisposedException(nameof(PostgresFence));
            }

            _session = session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    public async Task<LeaseRenewal> RenewAsync(TimeSpan silence, CancellationToken ct)
    {
        if (_session is not { State: System.Data.ConnectionState.Open })
        {
            await DropSessionAsync();
            await ConnectAsync(ct);
        }

        try
        {
            await using var batch = new NpgsqlBatch(_session)
            {
                BatchCommands =
                {
                    new NpgsqlBatchCommand(
                        "UPDATE broker_nodes SET lease_until = clock_timestamp() + $2, renewed_at = clock_timestamp() WHERE id = $1 AND NOT fenced")
                    {
                        Parameters = { new() { Value = _nodeId }, new() { Value = LeaseDuration } },
                    },
                    // Rows of the last minute only: a node gone for longer was removed from the cluster long ago.
                    new NpgsqlBatchCommand(
                        "SELECT address, uid, node_name, alive FROM (SELECT address, uid, node_name, lease_until, broker_node_alive(id) AS alive " +
                        "FROM broker_nodes WHERE id <> $1 AND address IS NOT NULL AND uid IS NOT NULL " +
                        "AND lease_until > clock_timestamp() - interval '1 minute') n WHERE NOT alive OR lease_until < clock_timestamp() - $2")
                    {
                        Parameters = { new() { Value = _nodeId }, new() { Value = silence } },
                    },
                },
            };
            await using var reader = await batch.ExecuteReaderAsync(ct);
            var dead = new List<PeerIncarnation>();
            var silent = new List<PeerIncarnation>();
            while (await reader.ReadAsync(ct))
            {
                (reader.GetBoolean(3) ? silent : dead).Add(new PeerIncarnation(reader.GetString(0), reader.GetInt64(1), reader.GetString(2)));
            }

            bool renewed = batch.BatchCommands[0].RecordsAffected == 1;
            return new LeaseRenewal(!renewed, dead, silent);
        }
        catch
        {
            await DropSessionAsync();
            throw;
        }
    }

    public async Task<ClaimOutcome> ClaimAsync(string persistenceId, CancellationToken ct)
    {
        await using var command = _pool.CreateCommand("SELECT wait_ms, highest, previous, claimed_epoch FROM broker_claim($1, $2)");
        command.Parameters.Add(new() { Value = persistenceId });
        command.Parameters.Add(new() { Value = Incarnation });
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new ClaimOutcome(TimeSpan.FromMilliseconds(reader.GetInt32(0)), reader.IsDBNull(1) ? 0 : reader.GetInt64(1),
            reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? 0 : reader.GetInt64(3));
    }

    public async Task ReleaseAsync(string persistenceId, long epoch, bool forget, CancellationToken ct)
    {
        await using var command = _pool.CreateCommand(forget
            ? "DELETE FROM broker_owners WHERE persistence_id = $1 AND incarnation = $2 AND epoch = $3"
            : "UPDATE broker_owners SET incarnation = NULL WHERE persistence_id = $1 AND incarnation = $2 AND epoch = $3");
        command.Parameters.Add(new() { Value = persistenceId });
        command.Parameters.Add(new() { Value = Incarnation });
        command.Parameters.Add(new() { Value = epoch });
        await command.ExecuteNonQueryAsync(ct);
    }

    private async Task DropSessionAsync()
    {
        if (_session is { } s)
        {
            _session = null;
            try
            {
                await s.DisposeAsync();
            }
            catch (Exception e) when (e is NpgsqlException or IOException or ObjectDisposedException or OperationCanceledException)
            {
                // A lease renewal was in flight on the session: closing it failed half-way, but the
                // socket is closed all the same, and with it the session and its lock.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Closing the session releases the lock: peers see this incarnation gone.
        _disposed = true;
        await DropSessionAsync();
        await _pool.DisposeAsync();
        // The journal's pool is keyed by a connection string no later incarnation uses: its idle
        // sessions would otherwise stay open (a node restarted in-process would pile them up).
        await using var journal = new NpgsqlConnection(_journalConnectionString);
        NpgsqlConnection.ClearPool(journal);
    }
}
