using System.Collections.Concurrent;
using Akka.Actor;

namespace Broker.Actors.Policies;

/// <summary>
/// The queues of this node, each told PoliciesChanged when the node's replica of the policies
/// changed. Not Akka's event stream: its Subscribe copies the subscriber list under a lock and
/// watches the subscriber, so starting 10,000 durable queues spent about a third of the start's
/// CPU subscribing, quadratic in the number of queues; here adding and removing is constant time.
/// </summary>
public sealed class PolicyListeners
{
    private readonly ConcurrentDictionary<IActorRef, byte> _queues = new();

    public void Add(IActorRef queue) => _queues.TryAdd(queue, 0);

    public void Remove(IActorRef queue) => _queues.TryRemove(queue, out _);

    public void PoliciesChanged()
    {
        foreach (var queue in _queues.Keys)
        {
            queue.Tell(Policies.PoliciesChanged.Instance, ActorRefs.NoSender);
        }
    }
}
