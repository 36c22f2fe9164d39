using System.Collections.Concurrent;
using Akka.Actor;

namespace Broker.Actors.Queues;

/// <summary>A live queue as this node knows it: where its actor is and who may use it.</summary>
public sealed record QueueInfo(QueueDefinition Definition, IActorRef Ref, string? OwnerConnectionId)
{
    public string Name => Definition.Name;
}

/// <summary>
/// The node's index of declared queues, so channels can check a queue exists and send to its actor
/// directly instead of through the shard region. Queue actors add themselves when declared or
/// recovered and remove themselves when deleted.
/// </summary>
public sealed class QueueDirectory
{
    private readonly ConcurrentDictionary<(string VHost, string Name), QueueInfo> _queues = new();

    public void Register(QueueInfo info) => _queues[(info.Definition.VHost, info.Name)] = info;

    public void Unregister(string vhost, string name, IActorRef owner)
    {
        if (_queues.TryGetValue((vhost, name), out var info) && info.Ref.Equals(owner))
        {
            _queues.TryRemove((vhost, name), out _);
        }
    }

    public QueueInfo? Find(string vhost, string name) => _queues.TryGetValue((vhost, name), out var q) ? q : null;

    public int Count => _queues.Count;

    public IReadOnlyCollection<QueueInfo> All => _queues.Values.ToList();
}
