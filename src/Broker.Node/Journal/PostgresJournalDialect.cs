using Npgsql;
using NpgsqlTypes;

namespace Broker.Node.Journal;

/// <summary>
/// The journal's writes to PostgreSQL over one connection: every row of a group commit goes in one
/// NpgsqlBatch, one round trip that the server runs as one implicit transaction (one commit, one
/// WAL flush with synchronous_commit on). The connection string is the node's fenced one, so the
/// fence's trigger sees this node's incarnation as the writer of every row.
/// </summary>
internal sealed class PostgresJournalDialect(string connectionString, string writerUuid) : JournalDialect
{
    private static readonly string InsertSql = InsertStatement("false", "$1", "$2", "$3", "$4", "$5", "$6", "$7");

    /// <summary>Separate statements: a batch command holds one statement with positional parameters.</summary>
    private static readonly string[] DeleteSql = DeleteStatements("$1", "$2", "true", "false");

    private NpgsqlConnection? _connection;

    public override bool DeletesAlongsideWrites => true;

    public override void Insert(IReadOnlyList<PendingWrite> writes)
    {
        var connection = Open();
        using var batch = new NpgsqlBatch(connection);
        foreach (var write in writes)
        {
            foreach (var row in write.Rows)
            {
                var insert = new NpgsqlBatchCommand(InsertSql);
                insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = row.Created });
                insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = row.PersistenceId, NpgsqlDbType = NpgsqlDbType.Varchar });
                insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = row.SequenceNr });
                insert.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = row.Message, NpgsqlDbType = NpgsqlDbType.Bytea });
                insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = row.Manifest, NpgsqlDbType = NpgsqlDbType.Varchar });
                insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = row.SerializerId });
                insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = writerUuid, NpgsqlDbType = NpgsqlDbType.Varchar });
                batch.BatchCommands.Add(insert);
            }
        }

        batch.ExecuteNonQuery();
    }

    public override void Delete(string persistenceId, long toSequenceNr)
    {
        var connection = Open();
        using var batch = new NpgsqlBatch(connection);
        foreach (var statement in DeleteSql)
        {
            var command = new NpgsqlBatchCommand(statement);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = persistenceId, NpgsqlDbType = NpgsqlDbType.Varchar });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = toSequenceNr });
            batch.BatchCommands.Add(command);
        }

        batch.ExecuteNonQuery();
    }

    public override List<string> PersistenceIds()
    {
        using var query = new NpgsqlCommand(PersistenceIdsStatement, Open());
        return ReadStrings(query.ExecuteReader());
    }

    /// <summary>
    /// An error the server reported about the data (class 22 data exception, 23 integrity constraint,
    /// P0001 the fence's trigger): the connection is fine and the implicit transaction was rolled
    /// back. A session the server ended (57P01, a claim terminating it) or a broken connection is not.
    /// </summary>
    public override bool IsRowError(Exception failure) =>
        failure is PostgresException { SqlState: var state } && (state.StartsWith("22", StringComparison.Ordinal) ||
                                                                  state.StartsWith("23", StringComparison.Ordinal) || state == "P0001");

    public override void Close()
    {
        _connection?.Dispose();
        _connection = null;
    }

    public override char ParameterMarker => '@';

    public override string FalseLiteral => "false";

    public override System.Data.Common.DbConnection OpenReadConnection()
    {
        var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        return connection;
    }

    private NpgsqlConnection Open()
    {
        if (_connection is not null)
        {
            return _connection;
        }

        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!connectionString.Contains("Max Auto Prepare", StringComparison.OrdinalIgnoreCase) &&
            !connectionString.Contains("MaxAutoPrepare", StringComparison.OrdinalIgnoreCase))
        {
            // The INSERT is the same statement every time: prepared on the server after two uses it is
            // parsed and planned once. Left alone when the operator set it (0 behind PgBouncer).
            builder.MaxAutoPrepare = 8;
            builder.AutoPrepareMinUsages = 2;
        }

        // Under the journal's circuit-breaker call timeout (10 s), so a write reported failed did not commit later.
        builder.CommandTimeout = Math.Min(builder.CommandTimeout, 5);
        var connection = new NpgsqlConnection(builder.ConnectionString);
        connection.Open();
        using (var session = connection.CreateCommand())
        {
            // Pinned rather than left to the server's defaults: the fence's trigger must see a queue's
            // owner as of each row (read committed), and a commit must be on disk before it returns.
            session.CommandText = "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED; SET synchronous_commit = on";
            session.ExecuteNonQuery();
        }

        _connection = connection;
        return connection;
    }
}
