namespace Broker.Actors;

/// <summary>
/// Lists what the journal holds, so the node can recover its durable queues and exchanges at
/// start-up (see Broker.Node's Journal/JournalIndex). One query at start-up, nothing running after:
/// Akka.Persistence.Sql's read journal would also start its sequence actor, which polls the journal
/// every second and whose gap search grows with every row a compaction deleted (it took most of the
/// CPU of an aged durable queue).
/// </summary>
public interface IJournalIndex
{
    /// <summary>Every persistence id with a row in the journal.</summary>
    Task<IReadOnlyList<string>> PersistenceIdsAsync(CancellationToken ct);
}
