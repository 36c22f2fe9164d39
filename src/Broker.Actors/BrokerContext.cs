using Akka.Actor;
using Akka.Cluster.Sharding;
using Broker.Actors.Cluster;
using Broker.Actors.Exchanges;
using Broker.Actors.Queues;
using Broker.Actors.Routing;
using Broker.Actors.Topology;

namespace Broker.Actors;

/// <summary>
/// What every connection, channel, queue and exchange actor of this node shares: settings, this
/// node's replica of the cluster's topology (routing snapshots and queue locations), the shard
/// regions of the sharded entities and the home of this node's node-local queues.
/// </summary>
public sealed class BrokerContext
{
    public BrokerContext(BrokerSettings settings)
    {
        Settings = settings;
        Routes.Policies = Policies;
        Connections = new Connection.ConnectionRegistry(Stats.Lifecycle);
        Topology = new TopologyReplicator(Routes, Queues, Policies, Access, PolicyListeners);
        Alarms = new Alarms.ResourceAlarms(settings.MemoryHighWatermark, settings.DiskFreeLimit);
    }

    public BrokerSettings Settings { get; }

    /// <summary>Where queues keep the messages they paged out of memory (one folder each; emptied at every start).</summary>
    public string PagesDirectory => Path.Combine(Settings.DataDirectory, "pages");
    public RoutingTable Routes { get; } = new();
    public QueueDirectory Queues { get; } = new();
    public Policies.PolicyTable Policies { get; } = new();
    public Access.AccessTable Access { get; } = new();
    public TopologyReplicator Topology { get; }

    /// <summary>This node's queues, told when the policies change.</summary>
    public Policies.PolicyListeners PolicyListeners { get; } = new();
    /// <summary>This node's connections, with what each reports of itself (also what the management API lists).</summary>
    public Connection.ConnectionRegistry Connections { get; }
    public Connection.LoginThrottle LoginFailures { get; } = new();

    /// <summary>This node's memory and disk limits and the alarms in effect in the cluster (AlarmMonitorActor).</summary>
    public Alarms.ResourceAlarms Alarms { get; }

    /// <summary>This node's connections', channels', queues' and exchanges' statistics, for the management API.</summary>
    public Stats.StatsRegistry Stats { get; } = new();

    /// <summary>Whether this node may hand out its durable queues' messages now (always, without a fence).</summary>
    public NodeLease Lease { get; } = new();

    /// <summary>
    /// Completes once this node's start recovered every durable exchange and queue (or joined a
    /// running cluster): a queue recovered earlier waits for it before it dead-letters or releases
    /// messages that fell due while it was down, so their targets are known.
    /// </summary>
    public TaskCompletionSource TopologyRecovered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public IActorRef QueueRegion { get; internal set; } = ActorRefs.Nobody;
    public IActorRef ExchangeRegion { get; internal set; } = ActorRefs.Nobody;
    public IActorRef PolicyRegion { get; internal set; } = ActorRefs.Nobody;
    public IActorRef AccessRegion { get; internal set; } = ActorRefs.Nobody;

    /// <summary>Parent of the exclusive and non-durable queues declared through this node (they never move).</summary>
    public IActorRef LocalQueues { get; internal set; } = ActorRefs.Nobody;

    /// <summary>Time to wait for a queue or exchange entity to answer a channel.</summary>
    public TimeSpan EntityTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public void TellQueue(string vhost, string name, object message, IActorRef sender) =>
        QueueRegion.Tell(new ShardingEnvelope(EntityIds.For(vhost, name), message), sender);

    public void TellExchange(string vhost, string name, object message, IActorRef sender) =>
        ExchangeRegion.Tell(new ShardingEnvelope(EntityIds.For(vhost, name), message), sender);

    /// <summary>
    /// Removes every binding that points at a queue or exchange being deleted, and completes when
    /// the source exchanges have done so, so a re-declared namesake never loses a new binding.
    /// The routing table holds every exchange of the cluster, so this finds them on any node.
    /// </summary>
    public Task RemoveBindingsTo(string vhost, string destination, bool toExchange)
    {
        var tasks = new List<Task>();
        foreach (var route in Routes.All(vhost))
        {
            if (route.Bindings.Any(b => b.Destination == destination && b.ToExchange == toExchange))
            {
                tasks.Add(ExchangeRegion.Ask<object>(
                    new ShardingEnvelope(EntityIds.For(vhost, route.Name), new RemoveBindingsTo(destination, toExchange)),
                    EntityTimeout));
            }
        }

        return Task.WhenAll(tasks);
    }

    /// <summary>Declares a vhost's amq.* exchanges (at start, and when a vhost is added); the same declare twice is a no-op.</summary>
    public async Task DeclareBuiltInExchangesAsync(string vhost)
    {
        foreach (var (name, type) in ExchangeDefinition.BuiltIn)
        {
            var def = new ExchangeDefinition(vhost, name, type, true, false, false, new Protocol.FieldTable());
            var reply = await ExchangeRegion.Ask<object>(new ShardingEnvelope(EntityIds.For(vhost, name), new DeclareExchange(def, false)),
                TimeSpan.FromSeconds(60));
            if (reply is ExchangeCommandFailed failed)
            {
                throw new InvalidOperationException($"could not declare {name} in vhost '{vhost}': {failed.Error.ReplyText}");
            }
        }
    }

    /// <summary>Answers once <paramref name="task"/> is done (at once when it already is, as on a single node).</summary>
    public static void TellWhenDone(Task task, IActorRef to, object message, IActorRef sender)
    {
        if (task.IsCompleted)
        {
            to.Tell(message, sender);
            return;
        }

        task.ContinueWith(_ => to.Tell(message, sender), TaskContinuationOptions.ExecuteSynchronously);
    }
}
