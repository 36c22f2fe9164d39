using Microsoft.Data.Sqlite;

namespace Broker.Node.Journal;

/// <summary>
/// The journal's writes to its SQLite file, over one connection with one prepared INSERT.
/// Durability: the file is in WAL mode and this connection runs with synchronous=FULL, so every
/// commit fsyncs the WAL before it returns, and a message is confirmed only after its commit: a
/// confirmed message survives a crash of the process and of the machine. (synchronous=NORMAL
/// would skip that fsync and sync only at checkpoints: a power loss could then take back
/// messages already confirmed.)
/// Checkpoints: SQLite's own automatic checkpoint stays on (it runs in the commit that takes the
/// WAL past 1000 pages, copying them back into the database file, a few milliseconds every few
/// hundred commits). A PASSIVE checkpointer on a connection of its own was tried and measured:
/// under a steady stream of commits it never finds the WAL fully copied at the moment a commit
/// starts, so the WAL never starts over; it grew to 156 MB in 20 s and commits into the growing
/// file were slower (1,070 vs 1,380 confirms/s with one in flight). docs/architecture.md has the figures,
/// docs/benchmarks.md two more schemes tried and dropped for the same reason (slower commits).
/// </summary>
internal sealed class SqliteJournalDialect(string connectionString, string writerUuid) : JournalDialect
{
    private static readonly string InsertSql =
        InsertStatement("0", "$created", "$pid", "$seq", "$message", "$manifest", "$identifier", "$writer");

    /// <summary>One command: Microsoft.Data.Sqlite runs the statements one after the other.</summary>
    private static readonly string DeleteSql = string.Join(";\n", DeleteStatements("$pid", "$to", "1", "0"));

    private SqliteConnection? _connection;
    private SqliteCommand? _insert;
    private SqliteParameter _created = null!, _pid = null!, _seq = null!, _message = null!, _manifest = null!, _identifier = null!;

    public override void Insert(IReadOnlyList<PendingWrite> writes)
    {
        var connection = Open();
        using var tx = connection.BeginTransaction();
        _insert!.Transaction = tx;
        foreach (var write in writes)
        {
            foreach (var row in write.Rows)
            {
                _created.Value = row.Created;
                _pid.Value = row.PersistenceId;
                _seq.Value = row.SequenceNr;
                _message.Value = row.Message;
                _manifest.Value = row.Manifest;
                _identifier.Value = row.SerializerId;
                _insert.ExecuteNonQuery();
            }
        }

        tx.Commit();
    }

    public override void Delete(string persistenceId, long toSequenceNr)
    {
        var connection = Open();
        using var tx = connection.BeginTransaction();
        using var delete = connection.CreateCommand();
        delete.Transaction = tx;
        delete.CommandText = DeleteSql;
        delete.Parameters.AddWithValue("$pid", persistenceId);
        delete.Parameters.AddWithValue("$to", toSequenceNr);
        delete.ExecuteNonQuery();
        tx.Commit();
    }

    public override List<string> PersistenceIds()
    {
        using var query = Open().CreateCommand();
        query.CommandText = PersistenceIdsStatement;
        return ReadStrings(query.ExecuteReader());
    }

    public override char ParameterMarker => '$';

    public override string FalseLiteral => "0";

    public override System.Data.Common.DbConnection OpenReadConnection()
    {
        var connection = new SqliteConnection(connectionString);
        connection.Open();
        return connection;
    }

    /// <summary>SQLITE_CONSTRAINT: a duplicate (persistence_id, sequence_number).</summary>
    public override bool IsRowError(Exception failure) => failure is SqliteException { SqliteErrorCode: 19 };

    public override void Close()
    {
        _insert?.Dispose();
        _connection?.Dispose();
        _insert = null;
        _connection = null;
    }

    private SqliteConnection Open()
    {
        if (_connection is not null)
        {
            return _connection;
        }

        var connection = new SqliteConnection(new SqliteConnectionStringBuilder(connectionString) { DefaultTimeout = 5 }.ConnectionString);
        connection.Open();
        using (var pragma = connection.CreateCommand())
        {
            // busy_timeout: if another connection (the snapshot store's) holds the write lock, SQLite
            // waits for it in short sleeps instead of failing the write at once.
            // Under the journal's circuit-breaker call timeout (10 s), so a write reported failed did not commit later.
            pragma.CommandText = "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;";
            pragma.ExecuteNonQuery();
        }

        var insert = connection.CreateCommand();
        insert.CommandText = InsertSql;
        _created = insert.Parameters.Add("$created", SqliteType.Integer);
        _pid = insert.Parameters.Add("$pid", SqliteType.Text);
        _seq = insert.Parameters.Add("$seq", SqliteType.Integer);
        _message = insert.Parameters.Add("$message", SqliteType.Blob);
        _manifest = insert.Parameters.Add("$manifest", SqliteType.Text);
        _identifier = insert.Parameters.Add("$identifier", SqliteType.Integer);
        insert.Parameters.AddWithValue("$writer", writerUuid);
        insert.Prepare();
        _connection = connection;
        _insert = insert;
        return connection;
    }
}
