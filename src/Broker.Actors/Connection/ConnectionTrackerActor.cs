using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Broker.Actors.Access;
using Broker.Actors.Topology;

namespace Broker.Actors.Connection;

/// <summary>A node's open connections per vhost, sent to its peers every second.</summary>
public sealed record VHostConnectionCounts(ImmutableDictionary<string, int> Counts) : Cluster.IClusterMessage;

/// <summary>
/// This node's view of its connections for the rest of the cluster, at /user/connections:
/// - every second it tells its peers how many connections each vhost has here, and keeps what they
///   tell it (ConnectionRegistry.RemoteCounts), so a vhost's connection limit is checked against
///   the whole cluster without a round trip at connection.open (a peer's count is about a second
///   old; one that stopped reporting for 5 s, or left the cluster, counts no more);
/// - when the access store loses a vhost or a user, closes this node's connections to that vhost
///   or of that user with 320, as RabbitMQ does.
/// </summary>
public sealed class ConnectionTrackerActor : ReceiveActor, IWithTimers
{
    public const string ActorName = "connections";
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly BrokerContext _broker;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Cluster.PeerReports<ImmutableDictionary<string, int>> _peers = new();

    public ConnectionTrackerActor(BrokerContext broker)
    {
        _broker = broker;
        Receive<Tick>(_ =>
        {
            SendCounts();
            Publish();
        });
        Receive<VHostConnectionCounts>(c =>
        {
            if (_peers.Received(Sender, c.Counts))
            {
                Publish();
            }
        });
        Receive<ClusterEvent.MemberRemoved>(e =>
        {
            if (_peers.Left(e.Member.Address))
            {
                Publish();
            }
        });
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
        Receive<AccessReplaced>(OnAccessReplaced);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(AccessReplaced));
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.IMemberEvent));
        Timers.StartPeriodicTimer("counts", Tick.Instance, Interval);
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
    }

    private void SendCounts()
    {
        if (TopologyReplicator.Peers(Context.System).Count > 0)
        {
            Cluster.PeerReports<ImmutableDictionary<string, int>>.TellPeers(Context.System, ActorName,
                new VHostConnectionCounts(_broker.Connections.CountsByVHost()), Self);
        }
    }

    private void Publish()
    {
        var sum = ImmutableDictionary.CreateBuilder<string, int>();
        foreach (var counts in _peers.Current)
        {
            foreach (var (vhost, n) in counts)
            {
                sum[vhost] = sum.GetValueOrDefault(vhost) + n;
            }
        }

        _broker.Connections.RemoteCounts = sum.ToImmutable();
    }

    private void OnAccessReplaced(AccessReplaced change)
    {
        foreach (var vhost in change.Previous.Store.VHosts.Where(v => change.Current.FindVHost(v.Name) is null))
        {
            Close(_broker.Connections.In(vhost.Name), $"vhost '{vhost.Name}' is deleted");
        }

        foreach (var user in change.Previous.Store.Users.Where(u => change.Current.FindUser(u.Name) is null))
        {
            Close(_broker.Connections.Of(user.Name), $"user '{user.Name}' is deleted");
        }
    }

    private void Close(List<IActorRef> connections, string reason)
    {
        if (connections.Count > 0)
        {
            _log.Info("{0}: closing {1} connection(s) on this node", reason, connections.Count);
        }

        foreach (var c in connections)
        {
            c.Tell(new ForceClose(reason));
        }
    }

    private sealed class Tick : INoSerializationVerificationNeeded
    {
        public static readonly Tick Instance = new();
    }
}
