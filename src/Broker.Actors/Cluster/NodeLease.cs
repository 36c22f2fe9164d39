using System.Diagnostics;

namespace Broker.Actors.Cluster;

/// <summary>
/// Whether this node may hand out messages of its durable queues right now. With a fence
/// (INodeFence) it is valid only until a little before the lease it last renewed runs out in the
/// database, counted from when the renewal was sent, so it always lapses here before a peer may
/// take the queues over there. Without one (a single node on SQLite) it is always valid.
/// Read by queues on the publish and delivery path and by LeaseGateStage before a client's socket:
/// one volatile read, and a timestamp when there is a fence.
/// </summary>
public sealed class NodeLease
{
    /// <summary>Share of the database lease used locally: room for clocks that run at slightly different rates.</summary>
    private const double LocalShare = 0.9;

    private long _validUntil = long.MaxValue;

    public bool IsValid
    {
        get
        {
            long until = Volatile.Read(ref _validUntil);
            return until == long.MaxValue || Stopwatch.GetTimestamp() < until;
        }
    }

    /// <summary>Invalid until the first renewal (a node with a fence starts this way).</summary>
    public void Suspend() => Volatile.Write(ref _validUntil, 0);

    /// <summary>A renewal sent at <paramref name="sentAt"/> (a Stopwatch timestamp) succeeded.</summary>
    public void Renewed(long sentAt, TimeSpan duration) =>
        Volatile.Write(ref _validUntil, sentAt + (long)(duration.TotalSeconds * LocalShare * Stopwatch.Frequency));
}
