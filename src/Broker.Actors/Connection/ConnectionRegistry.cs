using System.Collections.Concurrent;
using System.Collections.Immutable;
using Akka.Actor;

namespace Broker.Actors.Connection;

/// <summary>
/// The node's connections, with the vhost and user of each one that finished its handshake: a
/// shutdown closes every one with 320 CONNECTION_FORCED, a deleted vhost or user closes its own,
/// and a vhost's connection limit counts them.
/// </summary>
public sealed class ConnectionRegistry
{
    private static readonly (string VHost, string User) Handshaking = (string.Empty, string.Empty);

    private readonly ConcurrentDictionary<IActorRef, (string VHost, string User)> _connections = new();

    public int Count => _connections.Count;

    public void Add(IActorRef connection) => _connections[connection] = Handshaking;

    /// <summary>The connection finished its handshake: <paramref name="user"/> in <paramref name="vhost"/>.</summary>
    public void Opened(IActorRef connection, string vhost, string user) => _connections[connection] = (vhost, user);

    public void Remove(IActorRef connection) => _connections.TryRemove(connection, out _);

    public IReadOnlyCollection<IActorRef> All => _connections.Keys.ToList();

    public List<IActorRef> In(string vhost) => _connections.Where(c => c.Value.VHost == vhost).Select(c => c.Key).ToList();

    public List<IActorRef> Of(string user) => _connections.Where(c => c.Value.User == user).Select(c => c.Key).ToList();

    /// <summary>The vhost's connections on every node: here, and on the peers as they last reported (ConnectionTrackerActor).</summary>
    public int ClusterCountIn(string vhost) => _connections.Count(c => c.Value.VHost == vhost) + RemoteCounts.GetValueOrDefault(vhost);

    /// <summary>Connections per vhost on the other nodes, as they last reported.</summary>
    public ImmutableDictionary<string, int> RemoteCounts { get; set; } = ImmutableDictionary<string, int>.Empty;

    public ImmutableDictionary<string, int> CountsByVHost() =>
        _connections.Values.Where(v => v.VHost.Length > 0).GroupBy(v => v.VHost).ToImmutableDictionary(g => g.Key, g => g.Count());
}
