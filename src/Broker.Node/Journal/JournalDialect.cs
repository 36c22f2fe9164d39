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
    /// Akka.Persistence.Sql's delete, in one transaction, for what readers see: rows up to
    /// <paramref name="toSequenceNr"/> are gone except the highest of them, which stays marked
    /// deleted (never replayed, but it keeps the persistence id's highest sequence number readable),
    /// and their tags go. The plugin marks every row up to N and then deletes all but the highest
    /// marked; marking only the one row that stays gives the same rows with one index seek instead
    /// of an update per row (on PostgreSQL each of those updates wrote a new row version and ran the
    /// fence's trigger: compactions of ~1,000 rows took 54-173 ms).
    /// </summary>
    public abstract void Delete(string persistenceId, long toSequenceNr);

    /// <summary>Every persistence id with a row in the journal (what the node recovers at start-up).</summary>
    public abstract List<string> PersistenceIds();

    /// <summary>
    /// Whether deletes may run on a second connection while this one commits, without either waiting
    /// for the other: true where rows are locked one by one (PostgreSQL: a compaction deletes old
    /// rows, writes add new ones); false for SQLite, where a second writer waits for the first.
    /// </summary>
    public virtual bool DeletesAlongsideWrites => false;

    /// <summary>
    /// Whether <paramref name="failure"/> is the database refusing a row (a constraint, the fence's
    /// trigger) on a connection that is still good, so the transaction was rolled back for sure and
    /// the group's other writes can go on their own; anything else (a broken connection, a timeout)
    /// leaves the outcome unknown.
    /// </summary>
    public abstract bool IsRowError(Exception failure);

    /// <summary>Drops the connection (after a failure, or at shutdown).</summary>
    public abstract void Close();

    public void Dispose() => Close();

    /// <summary>
    /// The INSERT of one journal row into the plugin's "default" table mapping (the one place that
    /// names its columns), with the dialect's placeholders for created, persistence_id,
    /// sequence_number, message, manifest, identifier and writer_uuid, and its literal for false.
    /// </summary>
    protected static string InsertStatement(string falseLiteral, params string[] values) =>
        "INSERT INTO journal (created, deleted, persistence_id, sequence_number, message, manifest, identifier, writer_uuid) " +
        $"VALUES ({values[0]}, {falseLiteral}, {values[1]}, {values[2]}, {values[3]}, {values[4]}, {values[5]}, {values[6]})";

    /// <summary>
    /// The statements of <see cref="Delete"/>, in order, with the dialect's placeholders for the
    /// persistence id and N and its literals for true and false.
    /// </summary>
    protected static string[] DeleteStatements(string pid, string to, string trueLiteral, string falseLiteral)
    {
        // The row that stays: the highest up to N.
        string kept = $"(SELECT MAX(sequence_number) FROM journal WHERE persistence_id = {pid} AND sequence_number <= {to})";
        return
        [
            $"UPDATE journal SET deleted = {trueLiteral} WHERE persistence_id = {pid} AND deleted = {falseLiteral} AND sequence_number = {kept}",
            $"DELETE FROM journal WHERE persistence_id = {pid} AND sequence_number < {kept}",
            $"DELETE FROM tags WHERE persistence_id = {pid} AND sequence_nr <= {to}",
        ];
    }

    /// <summary>
    /// A new connection for reads (replay, highest sequence number), from the provider's pool: reads
    /// run on their own connections, many at once, never on the writer's.
    /// </summary>
    public abstract System.Data.Common.DbConnection OpenReadConnection();

    /// <summary>The dialect's marker for a named parameter ('$' for SQLite, '@' for PostgreSQL).</summary>
    public abstract char ParameterMarker { get; }

    /// <summary>
    /// The plugin's replay: a persistence id's rows in [$from, $to] that are not marked deleted, in
    /// order, at most $max (columns: sequence_number, message, manifest, identifier, writer_uuid, created).
    /// </summary>
    public string ReplayStatement()
    {
        char p = ParameterMarker;
        return "SELECT sequence_number, message, manifest, identifier, writer_uuid, created FROM journal " +
            $"WHERE persistence_id = {p}pid AND sequence_number >= {p}from AND sequence_number <= {p}to AND deleted = {FalseLiteral} " +
            $"ORDER BY sequence_number LIMIT {p}max";
    }

    /// <summary>The plugin's highest sequence number: deleted rows count (compaction keeps the highest one for this).</summary>
    public string HighestSequenceNrStatement()
    {
        char p = ParameterMarker;
        return $"SELECT MAX(sequence_number) FROM journal WHERE persistence_id = {p}pid AND sequence_number >= {p}from";
    }

    /// <summary>The dialect's literal for false in the deleted column.</summary>
    public abstract string FalseLiteral { get; }

    /// <summary>The query behind <see cref="PersistenceIds"/>.</summary>
    protected const string PersistenceIdsStatement = "SELECT DISTINCT persistence_id FROM journal";

    /// <summary>The first column of every row of <paramref name="reader"/>, which it disposes.</summary>
    protected static List<string> ReadStrings(System.Data.Common.DbDataReader reader)
    {
        using (reader)
        {
            var values = new List<string>();
            while (reader.Read())
            {
                values.Add(reader.GetString(0));
            }

            return values;
        }
    }

    /// <summary>The dialect for an Akka.Persistence.Sql provider name (linq2db's, as in the journal's HOCON).</summary>
    /// <param name="writerUuid">Written to each row's writer_uuid, as the plugin writes its journal's id.</param>
    public static JournalDialect For(string providerName, string connectionString, string writerUuid) =>
        providerName.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase) ? new SqliteJournalDialect(connectionString, writerUuid)
        : providerName.StartsWith("PostgreSQL", StringComparison.OrdinalIgnoreCase) ? new PostgresJournalDialect(connectionString, writerUuid)
        : throw new NotSupportedException($"the broker's journal writer has no dialect for provider '{providerName}'");
}
