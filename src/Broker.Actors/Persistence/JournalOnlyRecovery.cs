using Akka.Persistence;

namespace Broker.Actors.Persistence;

/// <summary>
/// The recovery of the broker's persistent actors (queues, exchanges, policies, access). The broker
/// never saves snapshots, so asking the snapshot store for one is a wasted query per actor per
/// recovery; with no snapshot selected, Akka answers without asking (SnapshotStore short-cuts
/// SnapshotSelectionCriteria.None), and a start with thousands of durable queues saves thousands
/// of queries. JournalWarmUp keeps the default: it is what creates the snapshot store's table.
/// </summary>
public static class JournalOnlyRecovery
{
    public static readonly Recovery Instance = new(SnapshotSelectionCriteria.None);
}
