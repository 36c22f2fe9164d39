using System.Collections.Concurrent;
using System.Data.Common;

namespace Broker.Node.Journal;

/// <summary>
/// The journal's reads (replay and highest sequence number) in the plugin's table layout and with
/// its semantics, as plain SQL. The plugin's reads go through linq2db query building and an
/// Akka.Streams stage per replay; a start-up recovers every durable queue, exchange and shard store
/// of the node, so that cost was paid thousands of times before the listener opened. Reads run on
/// a few connections kept open with both statements prepared (a session per concurrent read), so
/// a read is one execution of a prepared statement.
/// </summary>
internal sealed class JournalReader(JournalDialect dialect) : IDisposable
{
    /// <summary>Idle sessions kept for the next reads (recoveries run a few at a time; more are closed after use).</summary>
    private const int MaxIdleSessions = 8;

    private readonly string _replaySql = dialect.ReplayStatement();
    private readonly string _highestSql = dialect.HighestSequenceNrStatement();
    private readonly ConcurrentBag<Session> _idle = new();
    private volatile bool _disposed;

    /// <summary>A row as replayed: what the plugin's deserializer reads of it.</summary>
    public readonly record struct Row(long SequenceNr, byte[] Message, string Manifest, int? SerializerId, string? WriterUuid, long Created);

    /// <summary>Calls <paramref name="row"/> for each row, in order, on the calling thread (the caller decides which).</summary>
    public void Replay(string persistenceId, long fromSequenceNr, long toSequenceNr, long max, Action<Row> row)
    {
        if (max <= 0 || toSequenceNr < fromSequenceNr)
        {
            return;
        }

        Use(session =>
        {
            var replay = session.Replay;
            replay.Parameters[0].Value = persistenceId;
            replay.Parameters[1].Value = fromSequenceNr;
            replay.Parameters[2].Value = toSequenceNr;
            replay.Parameters[3].Value = max;
            using var reader = replay.ExecuteReader();
            while (reader.Read())
            {
                row(new Row(reader.GetInt64(0), (byte[])reader.GetValue(1), reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetInt32(3), reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt64(5)));
            }

            return 0L;
        });
    }

    /// <summary>The highest sequence number of a persistence id at or above <paramref name="fromSequenceNr"/> (0: none).</summary>
    public long HighestSequenceNr(string persistenceId, long fromSequenceNr) =>
        Use(session =>
        {
            var highest = session.Highest;
            highest.Parameters[0].Value = persistenceId;
            highest.Parameters[1].Value = fromSequenceNr;
            return highest.ExecuteScalar() is { } value and not DBNull ? Convert.ToInt64(value) : 0;
        });

    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryTake(out var session))
        {
            session.Dispose();
        }
    }

    /// <summary>Runs a read on an idle session (or a new one); a session whose read failed is closed, not reused.</summary>
    private long Use(Func<Session, long> read)
    {
        var session = _idle.TryTake(out var idle) ? idle : Open();
        long result;
        try
        {
            result = read(session);
        }
        catch
        {
            session.Dispose();
            throw;
        }

        if (_disposed || _idle.Count >= MaxIdleSessions)
        {
            session.Dispose();
        }
        else
        {
            _idle.Add(session);
        }

        return result;
    }

    private Session Open()
    {
        var connection = dialect.OpenReadConnection();
        try
        {
            return new Session(connection, Prepare(connection, _replaySql, "pid", "from", "to", "max"), Prepare(connection, _highestSql, "pid", "from"));
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>A prepared command whose parameters are set by position, in the order named.</summary>
    private DbCommand Prepare(DbConnection connection, string sql, params string[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            var p = command.CreateParameter();
            p.ParameterName = dialect.ParameterMarker + name;
            p.Value = name == "pid" ? string.Empty : 0L;
            command.Parameters.Add(p);
        }

        command.Prepare();
        return command;
    }

    private sealed record Session(DbConnection Connection, DbCommand Replay, DbCommand Highest) : IDisposable
    {
        public void Dispose()
        {
            Replay.Dispose();
            Highest.Dispose();
            Connection.Dispose();
        }
    }
}
