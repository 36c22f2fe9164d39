using Broker.Actors;
using Npgsql;

namespace Broker.Node;

/// <summary>
/// A PostgreSQL session advisory lock held while this node's journal creates its tables (the
/// plugin runs CREATE TABLE IF NOT EXISTS, which races when several nodes start on an empty
/// database). The server releases it if the process dies, so a crashed node never blocks the rest.
/// </summary>
public sealed class PostgresInitLock(string connectionString) : IJournalInitLock
{
    /// <summary>Any fixed number: the lock's name in pg_locks.</summary>
    private const long LockKey = 0x42524F4B4552; // "BROKER"

    public async Task<IAsyncDisposable> AcquireAsync(CancellationToken ct)
    {
        // Its own session, outside the pool: a pooled connection would keep the lock when "closed".
        // Bounded: a node frozen while it holds the lock must not keep the others waiting for ever.
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, CommandTimeout = 300 };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(ct);
        await using (var cmd = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection))
        {
            cmd.Parameters.AddWithValue("key", LockKey);
            await cmd.ExecuteNonQueryAsync(ct);
        }

        // Tables there already (every start but the first): no need to keep the others waiting.
        await using (var cmd = new NpgsqlCommand(
                         "SELECT to_regclass('journal') IS NOT NULL AND to_regclass('snapshot') IS NOT NULL AND to_regclass('tags') IS NOT NULL",
                         connection))
        {
            if (await cmd.ExecuteScalarAsync(ct) is true)
            {
                await connection.DisposeAsync();
                return NoLock.Instance;
            }
        }

        return connection; // closing the session (not pooled) releases the lock
    }

    private sealed class NoLock : IAsyncDisposable
    {
        public static readonly NoLock Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
