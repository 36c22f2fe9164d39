using Akka.Actor;
using Broker.Actors.Topology;

namespace Broker.Actors.Cluster;

/// <summary>
/// What each peer node last reported of itself (its connection counts, its alarms), for an actor
/// that has the same name on every node and tells its peers every second: a report from a peer
/// that stopped reporting for 5 s (unreachable), or that left the cluster, counts no more.
/// </summary>
public sealed class PeerReports<T>
{
    private static readonly TimeSpan Stale = TimeSpan.FromSeconds(5);
    private readonly Dictionary<Address, (T Report, long At)> _peers = new();

    /// <summary>Keeps a report from a remote sender; false for a local one (nothing kept).</summary>
    public bool Received(IActorRef sender, T report)
    {
        if (sender.Path.Address is not { HasGlobalScope: true } from)
        {
            return false;
        }

        _peers[from] = (report, Environment.TickCount64);
        return true;
    }

    /// <summary>The node left the cluster; true if it had reported.</summary>
    public bool Left(Address node) => _peers.Remove(node);

    /// <summary>The reports of the peers that reported within the last 5 s.</summary>
    public IEnumerable<T> Current
    {
        get
        {
            long now = Environment.TickCount64;
            foreach (var (report, at) in _peers.Values)
            {
                if (now - at <= Stale.TotalMilliseconds)
                {
                    yield return report;
                }
            }
        }
    }

    /// <summary>Sends the message to the actor of that name on every other up member.</summary>
    public static void TellPeers(ActorSystem system, string actorName, object message, IActorRef sender)
    {
        foreach (var peer in TopologyReplicator.Peers(system))
        {
            system.ActorSelection(new RootActorPath(peer) / "user" / actorName).Tell(message, sender);
        }
    }
}
