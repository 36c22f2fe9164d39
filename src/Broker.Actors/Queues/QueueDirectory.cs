using Akka.Actor;
using Broker.Actors.Topology;

namespace Broker.Actors.Queues;

/// <summary>
/// A queue as every node knows it: its definition, where its actor is (on any node) and who may
/// use it. Ref is Nobody while the queue's node is gone and the queue has not yet come back on
/// another one (a durable queue fails over; publishes meanwhile are nacked).
/// </summary>
public sealed record QueueInfo(QueueDefinition Definition, IActorRef Ref, string? OwnerConnectionId)
{
    public string Name => Definition.Name;

    public bool Available => !Ref.IsNobody();

    public bool NodeLocal => Definition.NodeLocal;
}

/// <summary>
/// This node's copy of the cluster's queues, so channels check a queue exists and send to its
/// actor directly (local or remote) instead of through the shard region. Queue actors replicate
/// versioned entries to every node when declared, recovered or moved, and tombstones when deleted.
/// </summary>
public sealed class QueueDirectory
{
    private readonly VersionedMap<QueueInfo> _queues = new();

    /// <summary>Nodes removed from the cluster (until a node on the same address joins again).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Address, byte> _lostNodes = new();

    /// <summary>
    /// Stores a queue's entry if newer. An entry that points at a node already removed (a stale
    /// snapshot arriving late) is stored as that node's loss would have left it: gone for a
    /// node-local queue, unavailable for a durable one.
    /// </summary>
    public bool Apply(QueueInfo info, TopologyVersion version)
    {
        if (!_lostNodes.IsEmpty && _lostNodes.ContainsKey(info.Ref.Path.Address))
        {
            return _queues.Apply(info.Definition.VHost, info.Name, info.NodeLocal ? null : info with { Ref = ActorRefs.Nobody }, version);
        }

        return _queues.Apply(info.Definition.VHost, info.Name, info, version);
    }

    /// <summary>A node joined on an address that was lost before: its queues are live again.</summary>
    public void NodeJoined(Address node) => _lostNodes.TryRemove(node, out _);

    public bool ApplyRemoval(string vhost, string name, TopologyVersion version) => _queues.Apply(vhost, name, null, version);

    public TopologyVersion VersionOf(string vhost, string name) => _queues.VersionOf(vhost, name);

    public QueueInfo? Find(string vhost, string name) => _queues.Find(vhost, name);

    /// <summary>How many queues the vhost has (its queue limit counts them; a delayed-message exchange's own queue does not count).</summary>
    public int CountIn(string vhost) => _queues.All.Count(q => q.Definition.VHost == vhost && !DelayedMessages.IsHidden(q.Name));

    public int Count => _queues.Count;

    public IReadOnlyCollection<QueueInfo> All => _queues.All;

    public List<(string VHost, string Name, QueueInfo? Value, TopologyVersion Version)> Snapshot() => _queues.Snapshot();

    /// <summary>
    /// A node left the cluster: its node-local queues are gone (returned, so their bindings can be
    /// dropped); its durable queues stay known but unavailable until they come back elsewhere.
    /// </summary>
    public List<QueueInfo> NodeLost(Address node)
    {
        _lostNodes[node] = 0;
        var lost = new List<QueueInfo>();
        foreach (var q in _queues.All.Where(q => q.Ref.Path.Address.Equals(node)))
        {
            _queues.Update(q.Definition.VHost, q.Name, current =>
            {
                if (!current.Ref.Equals(q.Ref))
                {
                    return current;
                }

                if (current.NodeLocal)
                {
                    lost.Add(current);
                    return null;
                }

                return current with { Ref = ActorRefs.Nobody };
            });
        }

        return lost;
    }
}
