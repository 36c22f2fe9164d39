using System.Collections.Concurrent;
using System.Collections.Immutable;
using Akka.Actor;
using Broker.Actors.Stats;

namespace Broker.Actors.Connection;

/// <summary>
/// The node's connections, each with what it reported of itself (<see cref="ConnectionStats"/>:
/// its vhost and user once its handshake told them, its peer, its traffic): a shutdown closes
/// every one with 320 CONNECTION_FORCED, a deleted vhost or user closes its own, a vhost's
/// connection limit counts them, and the management API lists them.
/// </summary>
public sealed class ConnectionRegistry(LifecycleCounters lifecycle)
{
    private readonly ConcurrentDictionary<IActorRef, ConnectionStats> _connections = new();

    public int Count => _connections.Count;

    public void Add(IActorRef connection, ConnectionStats stats)
    {
        _connections[connection] = stats;
        lifecycle.Add(ref lifecycle.ConnectionsOpened);
    }

    public void Remove(IActorRef connection)
    {
        if (_connections.TryRemove(connection, out _))
        {
            lifecycle.Add(ref lifecycle.ConnectionsClosed);
        }
    }

    public IReadOnlyCollection<IActorRef> All => _connections.Keys.ToList();

    /// <summary>What each connection reports of itself, for the management API.</summary>
    public IEnumerable<ConnectionStats> Stats => _connections.Values;

    /// <summary>The connection of that name (RabbitMQ's "peer -> local"), if it is on this node.</summary>
    public IActorRef? Find(string name) => _connections.FirstOrDefault(c => c.Value.Name == name).Key;

    /// <summary>Connections past connection.open on this node (the management API's own are not counted: they are the node's).</summary>
    public int OpenCount => _connections.Values.Count(c => c.VHost.Length > 0 && !c.Internal);

    public List<IActorRef> In(string vhost) => _connections.Where(c => c.Value.VHost == vhost).Select(c => c.Key).ToList();

    public List<IActorRef> Of(string user) => _connections.Where(c => c.Value.User == user).Select(c => c.Key).ToList();

    /// <summary>The vhost's connections on every node: here, and on the peers as they last reported (ConnectionTrackerActor).</summary>
    public int ClusterCountIn(string vhost) => _connections.Values.Count(c => c.VHost == vhost) + RemoteCounts.GetValueOrDefault(vhost);

    /// <summary>Connections per vhost on the other nodes, as they last reported.</summary>
    public ImmutableDictionary<string, int> RemoteCounts { get; set; } = ImmutableDictionary<string, int>.Empty;

    public ImmutableDictionary<string, int> CountsByVHost() =>
        _connections.Values.Where(c => c.VHost.Length > 0).GroupBy(c => c.VHost).ToImmutableDictionary(g => g.Key, g => g.Count());
}
