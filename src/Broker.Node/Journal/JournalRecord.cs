namespace Broker.Node.Journal;

/// <summary>
/// One row of Akka.Persistence.Sql's journal table (table-mapping "default"), serialized the way
/// that plugin serializes it, so its replay, queries and tools read rows written by either.
/// </summary>
internal sealed record JournalRecord(
    string PersistenceId,
    long SequenceNr,
    long Created,
    byte[] Message,
    string Manifest,
    int SerializerId);
