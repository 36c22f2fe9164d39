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
    private const string InsertSql =
        "INSERT INTO journal (created, deleted, persistence_id, sequence_number, message, manifest, identifier, writer_uuid) " +
        "VALUES ($1, false, $2, $3, $4, $5, $6, $7)";

    private const string DeleteSql = """
        UPDATE journal SET deleted = true WHERE persistence_id = $1 AND sequence_number =
          (SELECT MAX(sequence_number) FROM journal WHERE persistence_id = $1 AND sequence_number <= $2);
        DELETE FROM journal WHERE persistence_id = $1 AND sequence_number <
          (SELECT MAX(sequence_number) FROM journal WHERE persistence_id = $1 AND sequence_number <= $2);
        DELETE FROM tags WHERE persistence_id = $1 AND sequence_nr <= $2;
        """;

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
        foreach (var statement in DeleteSql.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var command = new NpgsqlBatchCommand(statement);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = persistenceId, NpgsqlDbType = NpgsqlDbType.Varchar });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = toSequenceNr });
            batch.BatchCommands.Add(command);
        }

        batch.ExecuteNonQuery();
    }

    public override void Close()
    {
        _connection?.Dispose();
        _connection = null;
    }

    private NpgsqlConnection Open()
    {
        if (_connection is not null)
        {
            return _connection;
        }

        // Statements this connection runs often are prepared on the server after a few uses.
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = 8, AutoPrepareMinUsages = 2 };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        connection.Open();
        _connection = connection;
        return connection;
    }
}
