using Akka.Actor;
using Broker.Actors.Queues;
using Broker.Actors.Routing;
using Broker.Actors.Topology;
using Broker.Protocol;

namespace Broker.Actors.Tests;

/// <summary>A node's replica of the topology: versioned, so stale or reordered updates never win.</summary>
public class TopologyReplicaTests
{
    private readonly RoutingTable _routes = new();
    private readonly QueueDirectory _queues = new();

    private static ExchangeDefinition Exchange(string name) => new("/", name, ExchangeType.Direct, true, false, false, new FieldTable());

    private static QueueDefinition Queue(string name, bool durable = true) => new("/", name, durable, false, false, new FieldTable());

    private readonly TopologyReplicator _replica;

    public TopologyReplicaTests() => _replica = new TopologyReplicator(_routes, _queues, new Broker.Actors.Policies.PolicyTable(), new Broker.Actors.Access.AccessTable());

    private bool Apply(ITopologyUpdate u) => u.ApplyTo(_replica);

    [Fact]
    public void A_newer_route_replaces_an_older_one_and_an_older_one_arriving_late_is_ignored()
    {
        var b1 = new Binding("x", "q1", false, "k", new FieldTable());
        var b2 = new Binding("x", "q2", false, "k", new FieldTable());
        Assert.True(Apply(new RouteChanged(Exchange("x"), new[] { b1, b2 }, new TopologyVersion(5, 2))));
        Assert.False(Apply(new RouteChanged(Exchange("x"), new[] { b1 }, new TopologyVersion(5, 1))));
        Assert.Equal(2, _routes.Find("/", "x")!.Bindings.Count);
        Assert.False(Apply(new RouteChanged(Exchange("x"), new[] { b1 }, new TopologyVersion(5, 2))));
        Assert.True(Apply(new RouteChanged(Exchange("x"), new[] { b1 }, new TopologyVersion(6, 0))));
        Assert.Single(_routes.Find("/", "x")!.Bindings);
    }

    [Fact]
    public void A_removal_leaves_a_tombstone_that_an_older_update_cannot_pass()
    {
        Apply(new RouteChanged(Exchange("x"), Array.Empty<Binding>(), new TopologyVersion(1, 1)));
        Assert.True(Apply(new ExchangeGone("/", "x", new TopologyVersion(1, 2))));
        Assert.Null(_routes.Find("/", "x"));
        Assert.False(Apply(new RouteChanged(Exchange("x"), Array.Empty<Binding>(), new TopologyVersion(1, 1))));
        Assert.Null(_routes.Find("/", "x"));
        Assert.Equal(new TopologyVersion(1, 2), _routes.VersionOf("/", "x"));
        // A new incarnation starts above the tombstone.
        var next = TopologyVersion.FirstAfter(_routes.VersionOf("/", "x"));
        Assert.True(next > new TopologyVersion(1, 2));
        Assert.True(Apply(new RouteChanged(Exchange("x"), Array.Empty<Binding>(), next)));
        Assert.NotNull(_routes.Find("/", "x"));
    }

    [Fact]
    public void First_version_of_a_new_incarnation_is_above_a_known_one_even_from_the_future()
    {
        var future = new TopologyVersion(DateTime.UtcNow.AddDays(1).Ticks, 7);
        Assert.True(TopologyVersion.FirstAfter(future) > future);
        Assert.True(TopologyVersion.FirstAfter(TopologyVersion.None) > TopologyVersion.None);
    }

    [Fact]
    public async Task Losing_a_node_drops_its_node_local_queues_and_marks_its_durable_ones_unavailable()
    {
        var system = ActorSystem.Create("replica-test", "akka.actor.provider = cluster\nakka.remote.dot-netty.tcp.port = 0");
        try
        {
            var remote = new Address("akka.tcp", "broker", "10.0.0.9", 4053);
            var onRemote = ((ExtendedActorSystem)system).Provider.ResolveActorRef($"akka.tcp://broker@10.0.0.9:4053/user/q");
            Assert.Equal(remote, onRemote.Path.Address);
            Apply(new QueueChanged(Queue("durable"), onRemote, null, new TopologyVersion(1, 0)));
            Apply(new QueueChanged(Queue("transient", durable: false), onRemote, null, new TopologyVersion(1, 0)));

            var lost = _queues.NodeLost(remote);

            Assert.Equal("transient", Assert.Single(lost).Name);
            Assert.Null(_queues.Find("/", "transient"));
            var durable = _queues.Find("/", "durable")!;
            Assert.False(durable.Available);
            // Its next incarnation, elsewhere, registers with a newer version and is available again.
            var local = system.ActorOf(Props.Empty, "q");
            Assert.True(Apply(new QueueChanged(Queue("durable"), local, null, TopologyVersion.FirstAfter(_queues.VersionOf("/", "durable")))));
            Assert.True(_queues.Find("/", "durable")!.Available);

            // A snapshot built before a peer noticed the loss arrives late: it cannot bring the
            // lost node's queues back to life.
            Apply(new QueueChanged(Queue("late-transient", durable: false), onRemote, null, new TopologyVersion(1, 0)));
            Apply(new QueueChanged(Queue("late-durable"), onRemote, null, new TopologyVersion(1, 0)));
            Assert.Null(_queues.Find("/", "late-transient"));
            Assert.False(_queues.Find("/", "late-durable")!.Available);

            // A node that joins again on that address is live again.
            _queues.NodeJoined(remote);
            Apply(new QueueChanged(Queue("late-transient", durable: false), onRemote, null, new TopologyVersion(2, 0)));
            Assert.True(_queues.Find("/", "late-transient")!.Available);
        }
        finally
        {
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(10));
        }
    }
}
