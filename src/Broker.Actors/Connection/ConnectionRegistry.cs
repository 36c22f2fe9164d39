using System.Collections.Concurrent;
using Akka.Actor;

namespace Broker.Actors.Connection;

/// <summary>The node's open connections, so a shutdown can close each one with 320 CONNECTION_FORCED.</summary>
public sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<IActorRef, byte> _connections = new();

    public int Count => _connections.Count;

    public void Add(IActorRef connection) => _connections[connection] = 0;

    public void Remove(IActorRef connection) => _connections.TryRemove(connection, out _);

    public IReadOnlyCollection<IActorRef> All => _connections.Keys.ToList();
}
