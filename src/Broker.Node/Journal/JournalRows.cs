namespace Broker.Node.Journal;

/// <summary>The journal's rows read back on demand by recovered queues, through a JournalReader of its own.</summary>
internal sealed class JournalRows(string providerName, string connectionString) : Broker.Actors.IJournalRows
{
    // The writer uuid is only written by inserts, which this dialect never makes.
    private readonly JournalReader _reader = new(JournalDialect.For(providerName, connectionString, writerUuid: "journal-rows"));

    public void Read(string persistenceId, long fromSequenceNr, long toSequenceNr, Broker.Actors.JournalRowAction row) =>
        _reader.Replay(persistenceId, fromSequenceNr, toSequenceNr, long.MaxValue, r =>
            row(r.SequenceNr, r.Message, r.SerializerId ?? throw new InvalidOperationException(
                $"journal row {persistenceId}/{r.SequenceNr} has no serializer id (written before the plugin recorded them)"), r.Manifest));
}
