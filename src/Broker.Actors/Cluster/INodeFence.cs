namespace Broker.Actors.Cluster;

/// <summary>
/// This node's standing in an arbiter every node can see whichever way the network splits: the
/// shared journal's database (Broker.Node's PostgresFence). It gives three things sharding alone
/// cannot (docs/cluster.md, "Fencing"):
/// - a lease the node must keep renewing to serve its queues, which a peer can revoke;
/// - a lock per node incarnation that the database releases the moment the process dies, so a
///   dead node is known dead in a fraction of a second rather than after missed heartbeats; and
///   a lease that stopped being renewed, so a frozen node is known unable to serve in seconds;
/// - ownership of each durable queue's journal, checked by the database on every write, so the
///   node a queue was taken from cannot write (confirm) for it again.
/// </summary>
public interface INodeFence : IAsyncDisposable
{
    /// <summary>This incarnation's name: the application_name of its journal sessions, which the write check compares.</summary>
    string Incarnation { get; }

    /// <summary>How long one renewal keeps the lease.</summary>
    TimeSpan LeaseDuration { get; }

    /// <summary>Takes this incarnation's lock and records it with its cluster address, before the node joins.</summary>
    Task RegisterAsync(string address, long uid, string nodeName, CancellationToken ct);

    /// <summary>
    /// Renews the lease (refused once a peer fenced this node) and lists the peers whose lock is
    /// free, and those whose lease ran out more than <paramref name="silence"/> ago. Throws when
    /// the database cannot be reached; the next call reconnects and takes the lock again first.
    /// </summary>
    Task<LeaseRenewal> RenewAsync(TimeSpan silence, CancellationToken ct);

    /// <summary>
    /// Makes this node the owner of a queue's journal. If another node owned it and did not
    /// release it, that node is fenced first (it can renew its lease no more) and, while its lease
    /// may still be running, nothing is claimed: the outcome says how long to wait.
    /// </summary>
    Task<ClaimOutcome> ClaimAsync(string persistenceId, CancellationToken ct);

    /// <summary>
    /// Gives a queue's journal up as the queue stops (moves away, was deleted, or failed), so its
    /// next owner need not fence this node. Only the claim of <paramref name="epoch"/> is released:
    /// a late release never undoes a later claim. <paramref name="forget"/>: no such queue (any
    /// more), so the record goes.
    /// </summary>
    Task ReleaseAsync(string persistenceId, long epoch, bool forget, CancellationToken ct);
}

/// <param name="Fenced">A peer took over this node's queues: it must stop serving at once.</param>
/// <param name="DeadPeers">Registered peers whose lock is free: their process is gone.</param>
/// <param name="SilentPeers">Peers that hold their lock but stopped renewing their lease: frozen, or cut off from the database.</param>
public sealed record LeaseRenewal(bool Fenced, IReadOnlyList<PeerIncarnation> DeadPeers, IReadOnlyList<PeerIncarnation> SilentPeers);

/// <summary>A node incarnation as registered: its cluster address and the uid of that incarnation.</summary>
public sealed record PeerIncarnation(string Address, long Uid, string NodeName);

/// <param name="Wait">Greater than zero when the previous owner's lease may still run: claim again after it.</param>
/// <param name="HighestSequenceNr">The highest sequence number in the queue's journal once claimed.</param>
/// <param name="Previous">The incarnation that owned it before (null if none, or released).</param>
/// <param name="Epoch">Which claim of the queue this is (to release it by).</param>
public readonly record struct ClaimOutcome(TimeSpan Wait, long HighestSequenceNr, string? Previous, long Epoch);
