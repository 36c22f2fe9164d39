using Akka.Configuration;
using Microsoft.Data.Sqlite;

namespace Broker.Node;

/// <summary>
/// Turns broker.journal (provider + connection string) into Akka.Persistence settings:
/// Akka.Persistence.Sql over SQLite (default, a file in the data directory, WAL turned on before
/// the actor system opens it) or PostgreSQL, or Akka's in-memory journal.
/// </summary>
public sealed record JournalConfig(Config Akka, Broker.Actors.IJournalIndex? Index, string Description)
{
    /// <summary>broker.journal.provider, normalised.</summary>
    public static string ProviderOf(Config config) => (config.GetString("broker.journal.provider") ?? "sqlite").Trim().ToLowerInvariant();

    /// <summary>Whether several nodes can share this journal (only a database server can).</summary>
    public static bool IsShared(string provider) => provider == "postgresql";

    /// <summary>
    /// For PostgreSQL, a database lock nodes take while the journal creates its tables: nodes of a
    /// cluster starting together on an empty database would otherwise race on CREATE TABLE.
    /// </summary>
    public Broker.Actors.IJournalInitLock? InitLock { get; init; }

    /// <summary>Rows read back on demand by recovered queues (null for the in-memory journal: they recover everything eagerly).</summary>
    public Broker.Actors.IJournalRows? Rows { get; init; }

    /// <summary>For PostgreSQL (unless broker.cluster.fence is off), the node's lease, lock and queue ownership there.</summary>
    public Broker.Actors.Cluster.INodeFence? Fence { get; init; }

    /// <param name="incarnation">This process's name in the database (see Incarnation).</param>
    public static JournalConfig From(Config config, string dataDir, string incarnation)
    {
        string provider = ProviderOf(config);
        string connection = config.GetString("broker.journal.connection-string") ?? string.Empty;
        switch (provider)
        {
            case "memory":
                return new JournalConfig(ConfigurationFactory.ParseString(
                    "akka.persistence.journal.plugin = \"akka.persistence.journal.inmem\"\n" +
                    "akka.persistence.snapshot-store.plugin = \"akka.persistence.snapshot-store.inmem\""),
                    null, "in-memory journal");
            case "sqlite":
                if (connection.Length == 0)
                {
                    connection = "Data Source=" + Path.GetFullPath(Path.Combine(dataDir, "broker.db"));
                }

                EnableWal(connection);
                return new JournalConfig(Sql(connection, "SQLite.MS"), new Journal.JournalIndex("SQLite.MS", connection),
                    "SQLite journal (" + new SqliteConnectionStringBuilder(connection).DataSource + ")")
                {
                    Rows = new Journal.JournalRows("SQLite.MS", connection),
                };
            case "postgresql":
                if (connection.Length == 0)
                {
                    throw new ConfigurationException("broker.journal.connection-string", "BROKER_JOURNAL_CONNECTION",
                        "is required when broker.journal.provider is postgresql");
                }

                var pg = new Npgsql.NpgsqlConnectionStringBuilder(connection);
                bool fence = config.GetBoolean("broker.cluster.fence", true);
                if (fence)
                {
                    connection = PostgresFence.ForIncarnation(connection, incarnation);
                }

                // Read committed, pinned rather than left to the server's default: the fence's write
                // check must see the queue's owner as of each row, not as of a transaction's start.
                // (Journal rows are written by Journal/PostgresJournalDialect, which pins it on its
                // own sessions; this covers the plugin's snapshot writes.)
                var pinned = ConfigurationFactory.ParseString(
                    "akka.persistence.journal.sql.write-isolation-level = read-committed\n" +
                    "akka.persistence.snapshot-store.sql.write-isolation-level = read-committed");
                return new JournalConfig(pinned.WithFallback(Sql(connection, "PostgreSQL.15")), new Journal.JournalIndex("PostgreSQL.15", connection),
                    $"PostgreSQL journal ({pg.Host}:{pg.Port}/{pg.Database})")
                {
                    Rows = new Journal.JournalRows("PostgreSQL.15", connection),
                    InitLock = new PostgresInitLock(connection),
                    Fence = fence ? new PostgresFence(connection, incarnation, LeaseOf(config)) : null,
                };
            default:
                throw new ConfigurationException("broker.journal.provider", "BROKER_JOURNAL_PROVIDER",
                    $"'{provider}' is not one of sqlite, postgresql, memory");
        }
    }

    private static TimeSpan LeaseOf(Config config)
    {
        var lease = config.GetTimeSpan("broker.cluster.lease", TimeSpan.FromSeconds(2));
        // Above 10 s a failover would wait longer than a channel holds a command for its queue (15 s).
        if (lease < TimeSpan.FromMilliseconds(500) || lease > TimeSpan.FromSeconds(10))
        {
            throw new ConfigurationException("broker.cluster.lease", "BROKER_CLUSTER_LEASE",
                $"{lease.TotalMilliseconds:0} ms is outside 500 ms .. 10 s (it is renewed every 100 ms)");
        }

        return lease;
    }

    private static Config Sql(string connection, string providerName)
    {
        string cs = BrokerConfig.Quote(connection), pn = BrokerConfig.Quote(providerName);
        return ConfigurationFactory.ParseString($$"""
            akka.persistence {
              journal.plugin = "akka.persistence.journal.sql"
              snapshot-store.plugin = "akka.persistence.snapshot-store.sql"
              journal.sql {
                # Akka.Persistence.Sql's journal with the broker's group-commit write path (Journal/).
                class = "Broker.Node.Journal.GroupCommitJournal, Broker.Node"
                connection-string = {{cs}}
                provider-name = {{pn}}
                auto-initialize = on
                # After a failed write the journal fails fast for this long, then tries again.
                circuit-breaker.reset-timeout = 5s
              }
              snapshot-store.sql {
                connection-string = {{cs}}
                provider-name = {{pn}}
                auto-initialize = on
              }
            }
            """);
    }

    /// <summary>
    /// WAL is a property of the SQLite file and the journal plugin has no setting for it; without
    /// it every commit rewrites a rollback journal (several times slower).
    /// </summary>
    private static void EnableWal(string connection)
    {
        try
        {
            var builder = new SqliteConnectionStringBuilder(connection);
            if (Path.GetDirectoryName(Path.GetFullPath(builder.DataSource)) is { } dir)
            {
                Directory.CreateDirectory(dir);
            }

            using var c = new SqliteConnection(connection);
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA journal_mode=WAL;";
            cmd.ExecuteNonQuery();
        }
        catch (Exception e) when (e is SqliteException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException("broker.journal.connection-string", "BROKER_JOURNAL_CONNECTION",
                $"cannot open the SQLite journal: {e.Message}");
        }
    }
}
