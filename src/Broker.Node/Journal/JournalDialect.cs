namespace Broker.Node.Journal;

/// <summary>
/// The SQL the journal writer runs against one database, over one connection it keeps open. Only
/// the writer thread calls it, so it needs no locking. After a failure the writer closes it; the
/// next call opens it again.
/// </summary>
internal abstract class JournalDialect : IDisposable
{
    /// <summary>Inserts every row of <paramref name="writes"/> in one transaction (one commit, one fsync), or none of them.</summary>
    public abstract void Insert(IReadOnlyList<PendingWrite> writes);

    /// <summary>
    /// Akka.Persistence.Sql's delete, in one transaction: rows up to <paramref name="toSequenceNr"/>
    /// are marked deleted, then removed except the highest marked one (which keeps the persistence
    /// id's highest sequence number readable), and their tags go.
    /// </summary>
    public abstract void Delete(string persistenceId, long toSequenceNr);

    /// <summary>Drops the connection (after a failure, or at shutdown).</summary>
    public abstract void Close();

    public void Dispose() => Close();

    /// <summary>The dialect for an Akka.Persistence.Sql provider name (linq2db's, as in the journal's HOCON).</summary>
    /// <param name="writerUuid">Written to each row's writer_uuid, as the plugin writes its journal's id.</param>
    public static JournalDialect For(string providerName, string connectionString, string writerUuid) =>
        providerName.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase) ? new SqliteJournalDialect(connectionString, writerUuid)
        : providerName.StartsWith("PostgreSQL", StringComparison.OrdinalIgnoreCase) ? new PostgresJournalDialect(connectionString, writerUuid)
        : throw new NotSupportedException($"the broker's journal writer has no dialect for provider '{providerName}'");
}
