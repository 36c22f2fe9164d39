using Akka.Persistence;

namespace Broker.Actors.Persistence;

/// <summary>
/// The recovery of the broker's persistent actors that never save a snapshot (queues, policies,
/// access): asking the snapshot store for one is a wasted query per actor per recovery; with no
/// snapshot selected, Akka answers without asking (SnapshotStore short-cuts
/// SnapshotSelectionCriteria.None), and a start with thousands of durable queues saves thousands
/// of queries. Not for ExchangeActor, which snapshots its bindings (and deletes the events before),
/// nor JournalWarmUp, which is what creates the snapshot store's table.
/// </summary>
public static class JournalOnlyRecovery
{
    public static readonly Recovery Instance = new(SnapshotSelectionCriteria.None);
}
