using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace Broker.Actors.Topology;

/// <summary>
/// This node's end of topology replication, at /user/topology on every node.
/// - applies changes sent by entities on other nodes (versioned: stale ones are ignored) and acks;
/// - answers a joining node's request for everything it knows, and sends the same to a member that
///   comes up or becomes reachable again, so a node that missed changes catches up;
/// - when a member is removed (downed or left): its node-local queues are gone and its durable
///   queues unavailable until they come back elsewhere; the oldest member drops the bindings to the
///   queues that are gone.
/// </summary>
public sealed class TopologyActor : ReceiveActor
{
    private readonly BrokerContext _broker;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);

    public TopologyActor(BrokerContext broker)
    {
        _broker = broker;
        Receive<ITopologyUpdate>(u =>
        {
            _broker.Topology.Apply(u);
            Sender.Tell(TopologyApplied.Instance);
        });
        Receive<TopologySnapshotRequest>(_ => Sender.Tell(_broker.Topology.Snapshot()));
        Receive<TopologySnapshot>(s =>
        {
            foreach (var u in s.Updates)
            {
                _broker.Topology.Apply(u);
            }

            Sender.Tell(TopologyApplied.Instance);
        });
        Receive<TopologyApplied>(_ => { });
        Receive<Queues.EntityAwake>(_ => { });
        Receive<ClusterEvent.MemberUp>(e =>
        {
            _broker.Queues.NodeJoined(e.Member.Address);
            SendSnapshotTo(e.Member);
        });
        Receive<ClusterEvent.MemberJoined>(e => _broker.Queues.NodeJoined(e.Member.Address));
        Receive<ClusterEvent.ReachableMember>(e => SendSnapshotTo(e.Member));
        Receive<ClusterEvent.MemberRemoved>(e => OnMemberRemoved(e.Member));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<ClusterEvent.IReachabilityEvent>(_ => { });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
    }

    protected override void PreStart() => _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
        typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void SendSnapshotTo(Member member)
    {
        if (!member.Address.Equals(_cluster.SelfAddress))
        {
            TopologyReplicator.TopologyActorOf(Context.System, member.Address).Tell(_broker.Topology.Snapshot(), Self);
        }
    }

    private void OnMemberRemoved(Member member)
    {
        if (member.Address.Equals(_cluster.SelfAddress))
        {
            return;
        }

        var lost = _broker.Queues.NodeLost(member.Address);
        var unavailable = _broker.Queues.All.Where(q => !q.Available).ToList();
        _log.Info("Node {0} left the cluster: {1} exclusive/non-durable queue(s) gone with it; {2} durable queue(s) unavailable until they recover on another node",
            member.Address, lost.Count, unavailable.Count);
        // Wake them through the region: it keeps asking the coordinator for their shard's new home
        // until one is allocated, so they come back on a survivor without waiting for traffic
        // (publishes to an unavailable queue are nacked here and never reach the region).
        foreach (var q in unavailable)
        {
            _broker.TellQueue(q.Definition.VHost, q.Name, Queues.WakeEntity.Instance, Self);
        }
        if (lost.Count > 0 && IsOldest())
        {
            foreach (var q in lost)
            {
                _ = _broker.RemoveBindingsTo(q.Definition.VHost, q.Name, toExchange: false);
            }
        }
    }

    private bool IsOldest()
    {
        Member? oldest = null;
        foreach (var m in _cluster.State.Members)
        {
            if (m.Status == MemberStatus.Up && (oldest is null || m.IsOlderThan(oldest)))
            {
                oldest = m;
            }
        }

        return oldest is not null && oldest.Address.Equals(_cluster.SelfAddress);
    }
}
