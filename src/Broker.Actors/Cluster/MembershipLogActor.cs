using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace Broker.Actors.Cluster;

/// <summary>
/// The cluster's membership in the broker's own log lines (Akka's are shown only at DEBUG): a node
/// up, unreachable, reachable again, gone; and this node becoming the oldest member, which is where
/// the shard coordinators and other cluster singletons run.
/// </summary>
public sealed class MembershipLogActor : ReceiveActor
{
    public const string ActorName = "membership-log";

    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<UniqueAddress, Member> _members = new();
    private bool _oldest;

    public MembershipLogActor()
    {
        Receive<ClusterEvent.CurrentClusterState>(state =>
        {
            foreach (var m in state.Members)
            {
                _members[m.UniqueAddress] = m;
            }

            CheckOldest();
        });
        Receive<ClusterEvent.MemberUp>(e =>
        {
            _members[e.Member.UniqueAddress] = e.Member;
            if (!e.Member.UniqueAddress.Equals(_cluster.SelfUniqueAddress))
            {
                _log.Info("cluster: node {0} is up ({1} member(s) up)", e.Member.Address, _members.Values.Count(m => m.Status == MemberStatus.Up));
            }

            CheckOldest();
        });
        Receive<ClusterEvent.MemberRemoved>(e =>
        {
            _members.Remove(e.Member.UniqueAddress);
            if (!e.Member.UniqueAddress.Equals(_cluster.SelfUniqueAddress))
            {
                _log.Info("cluster: node {0} is gone from the cluster (it was {1})", e.Member.Address, e.PreviousStatus);
            }

            CheckOldest();
        });
        Receive<ClusterEvent.IMemberEvent>(e =>
        {
            _members[e.Member.UniqueAddress] = e.Member;
            CheckOldest();
        });
        Receive<ClusterEvent.UnreachableMember>(e => _log.Warning("cluster: node {0} is unreachable", e.Member.Address));
        Receive<ClusterEvent.ReachableMember>(e => _log.Info("cluster: node {0} is reachable again", e.Member.Address));
    }

    protected override void PreStart() => _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
        typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    /// <summary>Cluster singletons (the shard coordinators among them) run on the oldest member that is up or leaving.</summary>
    private void CheckOldest()
    {
        var oldest = _members.Values.Where(m => m.Status is MemberStatus.Up or MemberStatus.Leaving)
            .OrderBy(m => m, Member.AgeOrdering).FirstOrDefault();
        bool isOldest = oldest is not null && oldest.UniqueAddress.Equals(_cluster.SelfUniqueAddress);
        if (isOldest && !_oldest)
        {
            _log.Info("cluster: this node is the oldest member: the shard coordinators run here");
        }

        _oldest = isOldest;
    }
}
