using Akka.Actor;
using Akka.Cluster.Sharding;
using Broker.Actors.Cluster;

namespace Broker.Actors.Queues;

/// <summary>queue.declare of an exclusive or non-durable queue that does not exist yet: create it on this node.</summary>
public sealed record DeclareLocalQueue(string VHost, string Name, DeclareQueue Declare) : INoSerializationVerificationNeeded;

/// <summary>
/// Parent of this node's exclusive and non-durable queues. As in RabbitMQ, such a queue lives on
/// the node of the connection that declared it and never moves: it is not a sharded entity (a
/// rebalance would move it and lose its messages). It is registered in the replicated topology
/// like any queue, so every node can reach it, and it dies with its node. A queue asks to stop
/// the way a sharded entity does (Passivate), so QueueActor is the same class either way.
/// </summary>
public sealed class LocalQueuesActor : ReceiveActor
{
    public const string ActorName = "local-queues";

    private readonly BrokerContext _broker;
    private readonly Dictionary<string, IActorRef> _queues = new(StringComparer.Ordinal);
    private long _seq;

    public LocalQueuesActor(BrokerContext broker)
    {
        _broker = broker;
        Receive<DeclareLocalQueue>(OnDeclare);
        Receive<Passivate>(p =>
        {
            // Forget it now, so a declare of the same name meanwhile gets a fresh queue.
            Forget(Sender);
            Sender.Tell(p.StopMessage);
        });
        Receive<Terminated>(t => Forget(t.ActorRef));
    }

    private void Forget(IActorRef queue)
    {
        foreach (var id in _queues.Where(kv => kv.Value.Equals(queue)).Select(kv => kv.Key).ToList())
        {
            _queues.Remove(id);
        }
    }

    private void OnDeclare(DeclareLocalQueue d)
    {
        string entityId = EntityIds.For(d.VHost, d.Name);
        if (!_queues.TryGetValue(entityId, out var queue))
        {
            var ctx = _broker;
            queue = Context.ActorOf(Props.Create(() => new QueueActor(ctx, entityId)),
                Uri.EscapeDataString(d.VHost + "/" + d.Name) + "-" + ++_seq);
            Context.Watch(queue);
            _queues[entityId] = queue;
        }

        queue.Forward(d.Declare);
    }
}
