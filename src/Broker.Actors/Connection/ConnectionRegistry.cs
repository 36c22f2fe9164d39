using System.Collections.Concurrent;
using Akka.Actor;

namespace Broker.Actors.Connection;

/// <summary>
/// The node's connections and the vhost each one opened (empty while in its handshake): a shutdown
/// closes every one with 320 CONNECTION_FORCED, a deleted vhost closes its own, and a vhost's
/// connection limit counts them.
/// </summary>
public sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<IActorRef, string> _connections = new();

    public int Count => _connections.Count;

    public void Add(IActorRef connection) => _connections[connection] = string.Empty;

    /// <summary>The connection finished its handshake into <paramref name="vhost"/>.</summary>
    public void Opened(IActorRef connection, string vhost) => _connections[connection] = vhost;

    public void Remove(IActorRef connection) => _connections.TryRemove(connection, out _);

    public IReadOnlyCollection<IActorRef> All => _connections.Keys.ToList();

    public List<IActorRef> In(string vhost) => _connections.Where(c => c.Value == vhost).Select(c => c.Key).ToList();

    public int CountIn(string vhost) => _connections.Count(c => c.Value == vhost);
}
