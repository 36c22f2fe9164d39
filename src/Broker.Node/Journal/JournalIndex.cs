namespace Broker.Node.Journal;

/// <summary>The node's start-up listing of the journal, on a connection of its own that it closes again.</summary>
internal sealed class JournalIndex(string providerName, string connectionString) : Broker.Actors.IJournalIndex
{
    public Task<IReadOnlyList<string>> PersistenceIdsAsync(CancellationToken ct) =>
        Task.Run<IReadOnlyList<string>>(() =>
        {
            // The writer uuid is only written by inserts, which this connection never makes.
            using var dialect = JournalDialect.For(providerName, connectionString, writerUuid: "journal-index");
            return dialect.PersistenceIds();
        }, ct);
}
