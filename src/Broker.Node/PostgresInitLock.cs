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
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using (var cmd = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection))
        {
            cmd.Parameters.AddWithValue("key", LockKey);
            await cmd.ExecuteNonQueryAsync(ct);
        }

        return connection; // closing the session releases the lock
    }
}
