using Akka.Actor;
using Akka.Event;
using Broker.Actors.Access;
using Broker.Actors.Cluster;
using Broker.Actors.Topology;

namespace Broker.Actors.Connection;

/// <summary>Counts a vhost's connections on this node, or (ClusterWide) on every reachable node.</summary>
public sealed record CountVHostConnections(string VHost, bool ClusterWide) : IClusterMessage;

public sealed record VHostConnectionCount(int Count) : IClusterMessage;

/// <summary>
/// This node's view of its connections for the rest of the cluster, at /user/connections:
/// - counts a vhost's connections for its connection limit (asking its peers when cluster-wide);
/// - when the access store loses a vhost, closes this node's connections to it with 320, as
///   RabbitMQ does when a vhost is deleted.
/// </summary>
public sealed class ConnectionTrackerActor : ReceiveActor
{
    public const string ActorName = "connections";
    private static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(5);

    private readonly BrokerContext _broker;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ConnectionTrackerActor(BrokerContext broker)
    {
        _broker = broker;
        Receive<CountVHostConnections>(Count);
        Receive<AccessReplaced>(OnAccessReplaced);
    }

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(AccessReplaced));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private void Count(CountVHostConnections count)
    {
        int local = _broker.Connections.CountIn(count.VHost);
        if (!count.ClusterWide)
        {
            Sender.Tell(new VHostConnectionCount(local));
            return;
        }

        // An unreachable peer counts as none: a limit is not worth refusing every connection over.
        var peers = TopologyReplicator.Peers(Context.System)
            .Select(address => Context.System.ActorSelection(new RootActorPath(address) / "user" / ActorName)
                .Ask<VHostConnectionCount>(count with { ClusterWide = false }, PeerTimeout)
                .ContinueWith(t => t.IsCompletedSuccessfully ? t.Result.Count : 0, TaskContinuationOptions.ExecuteSynchronously))
            .ToList();
        Task.WhenAll(peers).ContinueWith(t => new VHostConnectionCount(local + t.Result.Sum()), TaskContinuationOptions.ExecuteSynchronously)
            .PipeTo(Sender);
    }

    private void OnAccessReplaced(AccessReplaced change)
    {
        foreach (var vhost in change.Previous.Store.VHosts)
        {
            if (change.Current.FindVHost(vhost.Name) is not null)
            {
                continue;
            }

            var connections = _broker.Connections.In(vhost.Name);
            if (connections.Count > 0)
            {
                _log.Info("vhost '{0}' was deleted: closing its {1} connection(s) on this node", vhost.Name, connections.Count);
            }

            foreach (var c in connections)
            {
                c.Tell(new ForceClose($"vhost '{vhost.Name}' is deleted"));
            }
        }
    }
}
