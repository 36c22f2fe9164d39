using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Broker.Actors.Access;
using Broker.Actors.Policies;
using Broker.Actors.Queues;
using Broker.Actors.Routing;

namespace Broker.Actors.Topology;

/// <summary>
/// Replicates topology changes (exchange routes, queue locations) to every node. A change is
/// applied on this node at once, then sent to the TopologyActor of every other reachable member;
/// the returned task completes when all of them have applied it (or timed out), and only then
/// does the entity answer its client (declare-ok, bind-ok...): a client on any other node sees
/// the change right after. A cluster of one applies locally and completes at once.
/// </summary>
public sealed class TopologyReplicator
{
    public const string ActorName = "topology";

    private static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(5);

    private ActorSystem? _system;
    private ILoggingAdapter? _log;

    private readonly PolicyListeners? _policyListeners;

    public TopologyReplicator(RoutingTable routes, QueueDirectory queues, PolicyTable policies, AccessTable access, PolicyListeners? policyListeners = null)
    {
        _policyListeners = policyListeners;
        Routes = routes;
        Queues = queues;
        Policies = policies;
        Access = access;
    }

    public RoutingTable Routes { get; }

    public QueueDirectory Queues { get; }

    public PolicyTable Policies { get; }

    public AccessTable Access { get; }

    /// <summary>Set once this node finished starting and listens for clients.</summary>
    public bool Serving { get; internal set; }

    internal void Attach(ActorSystem system)
    {
        _system = system;
        _log = Logging.GetLogger(system, "topology");
    }

    public bool Apply(ITopologyUpdate update)
    {
        bool applied = update.ApplyTo(this);
        if (applied && update is PolicyChanged or PolicyGone)
        {
            // Queues on this node take the change into account (QueueActor.Policy.cs).
            _policyListeners?.PoliciesChanged();
        }

        return applied;
    }

    /// <summary>Takes a newer access store; connections to a vhost or of a user that went are closed by ConnectionTrackerActor.</summary>
    internal bool ApplyAccess(AccessStore store, TopologyVersion version)
    {
        if (Access.Apply(store, version) is not { } change)
        {
            return false;
        }

        _system?.EventStream.Publish(change);
        return true;
    }

    public Task Replicate(ITopologyUpdate update)
    {
        Apply(update);
        if (_system is null)
        {
            return Task.CompletedTask;
        }

        var peers = Peers(_system);
        if (peers.Count == 0)
        {
            return Task.CompletedTask;
        }

        var acks = new Task[peers.Count];
        for (int i = 0; i < peers.Count; i++)
        {
            var peer = peers[i];
            acks[i] = TopologyActorOf(_system, peer).Ask<TopologyApplied>(update, AckTimeout).ContinueWith(t =>
            {
                if (!t.IsCompletedSuccessfully)
                {
                    _log?.Warning("topology change {0} not acknowledged by {1} within {2} s (unreachable?); it catches up when it is back",
                        update.GetType().Name, peer, AckTimeout.TotalSeconds);
                }
            }, TaskContinuationOptions.ExecuteSynchronously);
        }

        return Task.WhenAll(acks);
    }

    /// <summary>Everything this node holds, as updates another node can apply.</summary>
    public TopologySnapshot Snapshot()
    {
        var updates = new List<ITopologyUpdate>();
        foreach (var (vhost, name, route, version) in Routes.Snapshot())
        {
            updates.Add(route is null
                ? new ExchangeGone(vhost, name, version)
                : new RouteChanged(route.Definition, route.Bindings, version));
        }

        foreach (var (vhost, name, queue, version) in Queues.Snapshot())
        {
            // A queue seen as unavailable here (its node went) is sent as such; its owner re-registers with a newer version.
            updates.Add(queue is null
                ? new QueueGone(vhost, name, version)
                : new QueueChanged(queue.Definition, queue.Ref, queue.OwnerConnectionId, version));
        }

        foreach (var (vhost, name, policy, version) in Policies.Snapshot())
        {
            updates.Add(policy is null ? new PolicyGone(vhost, name, version) : new PolicyChanged(policy, version));
        }

        if (Access.Loaded)
        {
            updates.Add(new AccessStoreChanged(Access.Current.Store, Access.Version));
        }

        return new TopologySnapshot(updates, Serving);
    }

    /// <summary>The other members a change must reach: joining or up, and reachable.</summary>
    internal static List<Address> Peers(ActorSystem system)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        var result = new List<Address>();
        foreach (var m in state.Members)
        {
            if (m.Address.Equals(cluster.SelfAddress) ||
                m.Status is not (MemberStatus.Up or MemberStatus.Joining or MemberStatus.WeaklyUp or MemberStatus.Leaving) ||
                state.Unreachable.Contains(m))
            {
                continue;
            }

            result.Add(m.Address);
        }

        return result;
    }

    internal static ActorSelection TopologyActorOf(ActorSystem system, Address node) =>
        system.ActorSelection(new RootActorPath(node) / "user" / ActorName);
}
