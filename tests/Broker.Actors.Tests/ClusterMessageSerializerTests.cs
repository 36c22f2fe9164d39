using System.Runtime.CompilerServices;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Broker.Actors.Cluster;
using Broker.Actors.Exchanges;
using Broker.Actors.Queues;
using Broker.Actors.Routing;
using Broker.Actors.Topology;
using Broker.Protocol;

namespace Broker.Actors.Tests;

/// <summary>
/// One actor system for all the serializer tests, configured from the repository's own
/// hocon/akka.conf, so the tests also prove the serializer and its binding are registered there.
/// </summary>
public sealed class ClusterSerializationFixture : IDisposable
{
    public ClusterSerializationFixture()
    {
        var config = ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(FindRoot(), "hocon", "akka.conf")));
        Kit = new Akka.TestKit.Xunit2.TestKit(config, "cluster-serializer-tests");
    }

    public Akka.TestKit.Xunit2.TestKit Kit { get; }

    public void Dispose() => Kit.Dispose();

    private static string FindRoot([CallerFilePath] string sourceFile = "")
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(sourceFile) ?? string.Empty })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Broker.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException($"Broker.sln not found above {AppContext.BaseDirectory} or {sourceFile}");
    }
}

/// <summary>
/// Every message that may cross nodes goes through ClusterMessageSerializer and comes back
/// field for field: bodies byte for byte, field tables with their AMQP value types, actor refs
/// resolving to the same actor.
/// </summary>
public class ClusterMessageSerializerTests : IClassFixture<ClusterSerializationFixture>
{
    private readonly ActorSystem _sys;
    private readonly TestProbe _probe;

    public ClusterMessageSerializerTests(ClusterSerializationFixture fixture)
    {
        _sys = fixture.Kit.Sys;
        _probe = fixture.Kit.CreateTestProbe();
    }

    // ---- samples -------------------------------------------------------------------------

    private static FieldTable SampleTable() => new()
    {
        ["byte"] = (byte)7,
        ["sbyte"] = (sbyte)-3,
        ["short"] = (short)-300,
        ["ushort"] = (ushort)60000,
        ["int"] = -70000,
        ["uint"] = 4_000_000_000u,
        ["long"] = long.MinValue + 1,
        ["float"] = 1.5f,
        ["double"] = -2.25,
        ["bool"] = true,
        ["decimal"] = new AmqpDecimal(2, 12345),
        ["timestamp"] = new AmqpTimestamp(1_700_000_000),
        ["longstr"] = "text"u8.ToArray(),
        ["bytes"] = new ByteArrayValue(new byte[] { 0, 1, 2, 255 }),
        ["array"] = new List<object?> { 1, "x"u8.ToArray(), (byte)2, new FieldTable { ["a"] = 1L } },
        ["void"] = null,
        ["nested"] = new FieldTable
        {
            ["inner"] = 42L,
            ["deeper"] = new FieldTable { ["b"] = (byte)1, ["d"] = new AmqpDecimal(0, -1) },
        },
    };

    private static Message SampleMessage(byte[]? body = null)
    {
        var props = new BasicProperties
        {
            ContentType = "application/json",
            ContentEncoding = "gzip",
            Headers = SampleTable(),
            DeliveryMode = 2,
            Priority = 5,
            CorrelationId = "corr-1",
            ReplyTo = "amq.rabbitmq.reply-to",
            Expiration = "60000",
            MessageId = "msg-1",
            Timestamp = 1_700_000_123,
            Type = "order",
            UserId = "guest",
            AppId = "tests",
            ClusterId = "c1",
        };
        return new Message("amq.direct", "orders.eu", props, ContentHeader.EncodeProperties(props),
            body ?? new byte[] { 0, 1, 2, 3, 254, 255 });
    }

    private static QueuedMessage SampleQueued() => new(1234567890123L, SampleMessage(), redelivered: true);

    private static AmqpException SampleError() =>
        new(406, "PRECONDITION_FAILED - " + new string('é', 200) + " (longer than a short string)", 50, 10);

    private static QueueDefinition SampleQueueDefinition() => new("/vh", "orders", true, false, true, SampleTable());

    private static ExchangeDefinition SampleExchangeDefinition() =>
        new("/vh", "orders-x", ExchangeType.Topic, true, false, true, SampleTable());

    private static Binding SampleBinding() => new("orders-x", "orders", false, "orders.#", SampleTable());

    /// <summary>One instance of every IClusterMessage type.</summary>
    private IEnumerable<object> Samples()
    {
        var p = _probe.Ref;
        yield return new DeclareQueue(SampleQueueDefinition(), true, "conn-1", p);
        yield return new QueueDeclareResult("orders", 12, 3);
        yield return new Publish(SampleMessage(), 77);
        yield return new Enqueued(p, 78);
        yield return new EnqueueFailed(p, 79, "queue is full");
        yield return new AddConsumer("ctag-1", true, true, 500, "conn-1", 64, -3);
        yield return new ConsumerAdded("ctag-1");
        yield return new ConsumerPrefetch("ctag-1", 7);
        var policy = new Broker.Actors.Policies.Policy("/vh", "ttl", "^orders\\.", "queues", 3, SampleTable());
        yield return new Broker.Actors.Policies.SetPolicy(policy);
        yield return new Broker.Actors.Policies.ClearPolicy("/vh", "ttl");
        yield return Broker.Actors.Policies.PolicyDone.Instance;
        yield return new Broker.Actors.Policies.PolicyFailed("no policy 'ttl'");
        yield return new PolicyChanged(policy, new TopologyVersion(4, 5));
        yield return new PolicyGone("/vh", "ttl", new TopologyVersion(4, 6));
        yield return new Broker.Actors.Channel.DirectReply(SampleMessage(), "secret-1");
        yield return new RemoveConsumer("ctag-1");
        yield return new ConsumerRemoved("ctag-1");
        yield return new GetMessage(true, "conn-1");
        yield return new GetResult("orders", SampleQueued(), 9);
        yield return new Settle(new[] { 1L, -2L, long.MaxValue }, Settlement.Requeue);
        yield return new RouteChanged(SampleExchangeDefinition(), new[] { SampleBinding(), SampleBinding() }, new TopologyVersion(638_000_000_000_000_000, 5));
        yield return new ExchangeGone("/vh", "orders-x", new TopologyVersion(7, 8));
        yield return new QueueChanged(SampleQueueDefinition(), p, "conn-1", new TopologyVersion(9, 10));
        yield return new QueueGone("/vh", "orders", new TopologyVersion(11, 12));
        yield return TopologyApplied.Instance;
        yield return TopologySnapshotRequest.Instance;
        yield return new TopologySnapshot(new ITopologyUpdate[]
        {
            new RouteChanged(SampleExchangeDefinition(), Array.Empty<Binding>(), new TopologyVersion(1, 2)),
            new QueueChanged(SampleQueueDefinition(), ActorRefs.Nobody, null, new TopologyVersion(3, 4)),
            new QueueGone("/", "q", new TopologyVersion(5, 6)),
        }, Serving: true);
        yield return new ChannelGone(p);
        yield return new PurgeQueue("conn-1");
        yield return new QueuePurged(17);
        yield return new DeleteQueue(true, false, "conn-1");
        yield return new QueueDeleted(18);
        yield return WakeEntity.Instance;
        yield return new EntityAwake(true);
        yield return FlushJournal.Instance;
        yield return JournalFlushed.Instance;
        yield return new QueueCommandFailed(SampleError());
        yield return new Deliver("orders", p, "ctag-1", SampleQueued(), false);
        yield return new ConsumerCancelled("orders", "ctag-1");
        yield return new PublishCredit(p, 200, 700);
        yield return PublishCreditProbe.Instance;
        yield return new DeliveryCredit("ctag-1", 10);
        yield return new DeclareExchange(SampleExchangeDefinition(), true);
        yield return new ExchangeDeclared("orders-x");
        yield return new DeleteExchange(true);
        yield return new ExchangeDeleted("orders-x");
        yield return new AddBinding(SampleBinding(), true);
        yield return new BindingAdded(SampleBinding());
        yield return new RemoveBinding(SampleBinding());
        yield return new BindingRemoved(SampleBinding());
        yield return new RemoveBindingsTo("orders", true);
        yield return new BindingsRemoved("orders");
        yield return new ExchangeCommandFailed(SampleError());
        yield return StopEntity.Instance;
        var store = SampleAccessStore();
        yield return new Broker.Actors.Access.AccessStoreChanged(store, new TopologyVersion(12, 13));
        yield return new Broker.Actors.Access.ChangeAccess(new Broker.Actors.Access.SetPermissions(new Broker.Actors.Access.Permission("app", "/vh", "^a", "^b", "")));
        yield return Broker.Actors.Access.EnsureAccess.Instance;
        yield return Broker.Actors.Access.AccessDone.Instance;
        yield return new Broker.Actors.Access.AccessFailed("no user 'x'");
        yield return new Broker.Actors.Connection.VHostConnectionCounts(System.Collections.Immutable.ImmutableDictionary<string, int>.Empty.Add("/", 3).Add("vh", 0));
        yield return new Broker.Actors.Alarms.NodeAlarms("broker@b", [Broker.Actors.Alarms.AlarmResource.Memory, Broker.Actors.Alarms.AlarmResource.Disk]);
        yield return Broker.Actors.Management.CollectNodeStats.Instance;
        yield return SampleReport();
        yield return new Broker.Actors.Management.CloseConnectionByName("127.0.0.1:5000 -> 127.0.0.1:5672", "maintenance");
        yield return new Broker.Actors.Management.ConnectionCloseResult(true);
    }

    private static Broker.Actors.Management.NodeStatsReport SampleReport()
    {
        var totals = Enumerable.Range(1, Broker.Actors.Stats.MessageStats.Count).Select(i => (long)i).ToArray();
        var rates = totals.Select(t => t / 2.0).ToArray();
        var node = new Broker.Actors.Management.NodeSample("node1", 1000, 2000, 3000, 4000, 5, 1024, 20, 2, 42, 1, 0, 2, 1, 3, 3, 0,
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14], 0.125, 50_000_000, true, false);
        var props = new System.Text.Json.Nodes.JsonObject { ["connection_name"] = "orders-service", ["capabilities"] = new System.Text.Json.Nodes.JsonObject { ["publisher_confirms"] = true } };
        var connection = new Broker.Actors.Management.ConnectionSample("a -> b", "node1", "guest", "/", "127.0.0.1", 5000, "127.0.0.1", 5672,
            false, "running", "PLAIN", props, 123, 131072, 2047, 60, 1, 10, 2, 20, 3, 1.5, 2.5);
        var consumer = new Broker.Actors.Management.ConsumerSample("ctag", "orders", true, false, 10, new System.Text.Json.Nodes.JsonObject { ["x-priority"] = 5 });
        var channel = new Broker.Actors.Management.ChannelSample("a -> b (1)", "node1", "a -> b", "127.0.0.1", 5000, 1, "guest", "/", true, false,
            10, 0, 2, 1, totals, rates, [consumer]);
        var queue = new Broker.Actors.Management.QueueSample("/", "orders", "node1", 3, 2, 1, 300, totals, rates);
        var exchange = new Broker.Actors.Management.ExchangeSample("/", "amq.topic", totals, rates);
        var closed = new Broker.Actors.Stats.ClosedConnection("c -> d", "guest", "/", "127.0.0.1", 5001, 320, "CONNECTION_FORCED - bye", 456, "broker");
        return new Broker.Actors.Management.NodeStatsReport(node, totals, rates, [connection], [channel], [queue], [exchange], [closed]);
    }

    [Fact]
    public void A_nodes_statistics_report_crosses_nodes_whole()
    {
        var report = SampleReport();
        var back = RoundTrip(report);
        Assert.Equal(report.Totals, back.Totals);
        Assert.Equal(report.Rates, back.Rates);
        Assert.Equal(report.Node with { JournalWriteBuckets = back.Node.JournalWriteBuckets }, back.Node);
        Assert.Equal(report.Node.JournalWriteBuckets, back.Node.JournalWriteBuckets);
        Assert.Equal("orders-service", (string?)back.Connections.Single().ClientProperties!["connection_name"]);
        Assert.Equal(5, (int)back.Channels.Single().Consumers.Single().Arguments["x-priority"]!);
        Assert.Equal(report.Queues.Single() with { Totals = back.Queues.Single().Totals, Rates = back.Queues.Single().Rates }, back.Queues.Single());
        Assert.Equal(report.Closed.Single(), back.Closed.Single());
    }

    [Fact]
    public void A_nodes_alarms_cross_nodes_whole()
    {
        var alarms = new Broker.Actors.Alarms.NodeAlarms("broker@b", [Broker.Actors.Alarms.AlarmResource.Disk]);
        var back = RoundTrip(alarms);
        Assert.Equal("broker@b", back.Node);
        Assert.Equal(alarms.Resources.ToArray(), back.Resources.ToArray());
        Assert.Empty(RoundTrip(new Broker.Actors.Alarms.NodeAlarms("broker@c", [])).Resources);
    }

    private static Broker.Actors.Access.AccessStore SampleAccessStore() =>
        Broker.Actors.Access.AccessStore.Initial("guest", "guest", ["/", "/vh"])
            .SetVHostLimits("/vh", 5, -1)
            .SetTopicPermission(new Broker.Actors.Access.TopicPermission("guest", "/vh", "amq.topic", "^{username}", ""));

    // ---- helpers -------------------------------------------------------------------------

    private ClusterMessageSerializer SerializerFor(object message) =>
        Assert.IsType<ClusterMessageSerializer>(_sys.Serialization.FindSerializerFor(message));

    /// <summary>Serializes with the serializer the system picks and reads back through the system by id and manifest.</summary>
    private T RoundTrip<T>(T message)
        where T : notnull
    {
        var serializer = SerializerFor(message);
        Assert.Equal(7102, serializer.Identifier);
        string manifest = serializer.Manifest(message);
        byte[] bytes = serializer.ToBinary(message);
        object back = _sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
        return Assert.IsType<T>(back);
    }

    private static void AssertTable(FieldTable expected, FieldTable actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, value) in expected)
        {
            AssertValue(value, actual[key]);
        }
    }

    private static void AssertValue(object? expected, object? actual)
    {
        if (expected is null)
        {
            Assert.Null(actual);
            return;
        }

        Assert.NotNull(actual);
        Assert.Equal(expected.GetType(), actual.GetType());
        switch (expected)
        {
            case FieldTable t:
                AssertTable(t, (FieldTable)actual);
                break;
            case List<object?> list:
                {
                    var other = (List<object?>)actual;
                    Assert.Equal(list.Count, other.Count);
                    for (int i = 0; i < list.Count; i++)
                    {
                        AssertValue(list[i], other[i]);
                    }

                    break;
                }

            case byte[] bytes:
                Assert.Equal(bytes, (byte[])actual);
                break;
            default:
                Assert.Equal(expected, actual);
                break;
        }
    }

    private static void AssertMessage(Message expected, Message actual)
    {
        Assert.Equal(expected.Exchange, actual.Exchange);
        Assert.Equal(expected.RoutingKey, actual.RoutingKey);
        Assert.Equal(expected.RawProperties, actual.RawProperties);
        Assert.True(expected.Body.AsSpan().SequenceEqual(actual.Body), "bodies differ");
        var e = expected.Properties;
        var a = actual.Properties;
        Assert.Equal(e.ContentType, a.ContentType);
        Assert.Equal(e.ContentEncoding, a.ContentEncoding);
        Assert.Equal(e.DeliveryMode, a.DeliveryMode);
        Assert.Equal(e.Priority, a.Priority);
        Assert.Equal(e.CorrelationId, a.CorrelationId);
        Assert.Equal(e.ReplyTo, a.ReplyTo);
        Assert.Equal(e.Expiration, a.Expiration);
        Assert.Equal(e.MessageId, a.MessageId);
        Assert.Equal(e.Timestamp, a.Timestamp);
        Assert.Equal(e.Type, a.Type);
        Assert.Equal(e.UserId, a.UserId);
        Assert.Equal(e.AppId, a.AppId);
        Assert.Equal(e.ClusterId, a.ClusterId);
        if (e.Headers is null)
        {
            Assert.Null(a.Headers);
        }
        else
        {
            AssertTable(e.Headers, Assert.IsType<FieldTable>(a.Headers));
        }

        Assert.Equal(expected.Persistent, actual.Persistent);
    }

    private static void AssertQueued(QueuedMessage expected, QueuedMessage actual)
    {
        Assert.Equal(expected.Id, actual.Id);
        Assert.Equal(expected.Redelivered, actual.Redelivered);
        AssertMessage(expected.Message, actual.Message);
    }

    private static void AssertError(AmqpException expected, AmqpException actual)
    {
        Assert.Equal(expected.ReplyCode, actual.ReplyCode);
        Assert.Equal(expected.ReplyText, actual.ReplyText);
        Assert.Equal(expected.ClassId, actual.ClassId);
        Assert.Equal(expected.MethodId, actual.MethodId);
        Assert.Equal(expected.Message, actual.Message);
    }

    private static void AssertBinding(Binding expected, Binding actual)
    {
        Assert.Equal(expected.Source, actual.Source);
        Assert.Equal(expected.Destination, actual.Destination);
        Assert.Equal(expected.ToExchange, actual.ToExchange);
        Assert.Equal(expected.RoutingKey, actual.RoutingKey);
        AssertTable(expected.Arguments, actual.Arguments);
    }

    /// <summary>The ref came back as the same actor: equal, and a message sent to it arrives.</summary>
    private void AssertProbeRef(IActorRef actual)
    {
        Assert.Equal(_probe.Ref, actual);
        actual.Tell("ping");
        _probe.ExpectMsg("ping", TimeSpan.FromSeconds(5));
    }

    // ---- coverage ------------------------------------------------------------------------

    /// <summary>The namespaces of the queue, exchange and sharding messages this serializer covers.</summary>
    private static readonly string[] CoveredNamespaces =
    {
        typeof(DeclareQueue).Namespace!, typeof(DeclareExchange).Namespace!, typeof(StopEntity).Namespace!,
        typeof(RouteChanged).Namespace!, typeof(Broker.Actors.Channel.DirectReply).Namespace!, typeof(Broker.Actors.Policies.SetPolicy).Namespace!,
        typeof(Broker.Actors.Access.ChangeAccess).Namespace!, typeof(Broker.Actors.Connection.VHostConnectionCounts).Namespace!,
        typeof(Broker.Actors.Management.CollectNodeStats).Namespace!, typeof(Broker.Actors.Alarms.NodeAlarms).Namespace!,
    };

    [Fact]
    public void Every_queue_exchange_and_sharding_message_has_a_sample_and_a_short_distinct_manifest()
    {
        var marked = typeof(IClusterMessage).Assembly.GetTypes()
            .Where(t => typeof(IClusterMessage).IsAssignableFrom(t) && !t.IsInterface && CoveredNamespaces.Contains(t.Namespace))
            .Select(t => t.FullName!)
            .Order(StringComparer.Ordinal)
            .ToList();
        var samples = Samples().ToList();
        Assert.Equal(marked, samples.Select(s => s.GetType().FullName!).Order(StringComparer.Ordinal));

        var manifests = samples.Select(s => SerializerFor(s).Manifest(s)).ToList();
        Assert.All(manifests, m => Assert.InRange(m.Length, 2, 3));
        Assert.Equal(manifests.Count, manifests.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Every_sample_reads_back_to_the_same_bytes()
    {
        foreach (var sample in Samples())
        {
            var serializer = SerializerFor(sample);
            string manifest = serializer.Manifest(sample);
            byte[] bytes = serializer.ToBinary(sample);
            object back = serializer.FromBinary(bytes, manifest);
            Assert.IsType(sample.GetType(), back);
            Assert.Equal(manifest, serializer.Manifest(back));
            Assert.Equal(bytes, serializer.ToBinary(back));
        }
    }

    [Fact]
    public void Journal_events_keep_their_own_serializer()
    {
        var e = new ExchangeRemoved("x");
        Assert.IsNotType<ClusterMessageSerializer>(_sys.Serialization.FindSerializerFor(e));
        Assert.Throws<ArgumentException>(() => new ClusterMessageSerializer((ExtendedActorSystem)_sys).Manifest(e));
    }

    // ---- topology replication ------------------------------------------------------------

    [Fact]
    public void The_access_store_crosses_nodes_whole()
    {
        var original = new Broker.Actors.Access.AccessStoreChanged(SampleAccessStore(), new TopologyVersion(3, 4));
        var back = RoundTrip(original);
        Assert.Equal(original.Version, back.Version);
        Assert.Equal(original.Store.Permissions, back.Store.Permissions);
        Assert.Equal(original.Store.TopicPermissions, back.Store.TopicPermissions);
        Assert.Equal(original.Store.VHosts, back.Store.VHosts);
        Assert.Equal(original.Store.Users[0].PasswordHash, back.Store.Users[0].PasswordHash);
    }

    [Fact]
    public void QueueChanged_round_trips_with_its_ref_version_and_owner()
    {
        var original = new QueueChanged(SampleQueueDefinition(), _probe.Ref, null, new TopologyVersion(long.MaxValue - 1, 3));
        var back = RoundTrip(original);
        Assert.Equal(original.Version, back.Version);
        Assert.Null(back.OwnerConnectionId);
        Assert.Equal(original.Definition.Name, back.Definition.Name);
        AssertTable(original.Definition.Arguments, back.Definition.Arguments);
        AssertProbeRef(back.Ref);
    }

    [Fact]
    public void A_topology_snapshot_round_trips_every_kind_of_entry()
    {
        var original = new TopologySnapshot(new ITopologyUpdate[]
        {
            new RouteChanged(SampleExchangeDefinition(), new[] { SampleBinding() }, new TopologyVersion(1, 2)),
            new ExchangeGone("/", "gone-x", new TopologyVersion(3, 4)),
            new QueueChanged(SampleQueueDefinition(), ActorRefs.Nobody, "conn-9", new TopologyVersion(5, 6)),
            new QueueGone("/", "gone-q", new TopologyVersion(7, 8)),
        }, Serving: false);
        var back = RoundTrip(original);
        Assert.False(back.Serving);
        Assert.Equal(original.Updates.Select(u => (u.GetType(), u.Version)), back.Updates.Select(u => (u.GetType(), u.Version)));
        var route = Assert.IsType<RouteChanged>(back.Updates[0]);
        AssertBinding(SampleBinding(), Assert.Single(route.Bindings));
        var queue = Assert.IsType<QueueChanged>(back.Updates[2]);
        Assert.True(queue.Ref.IsNobody());
        Assert.Equal("conn-9", queue.OwnerConnectionId);
        Assert.Equal("gone-q", Assert.IsType<QueueGone>(back.Updates[3]).Name);
    }

    // ---- queue messages ------------------------------------------------------------------

    [Fact]
    public void DeclareQueue_round_trips()
    {
        var original = new DeclareQueue(SampleQueueDefinition(), true, "conn-" + new string('c', 300), _probe.Ref);
        var back = RoundTrip(original);
        var d = back.Definition;
        Assert.Equal(original.Definition.VHost, d.VHost);
        Assert.Equal(original.Definition.Name, d.Name);
        Assert.Equal(original.Definition.Durable, d.Durable);
        Assert.Equal(original.Definition.Exclusive, d.Exclusive);
        Assert.Equal(original.Definition.AutoDelete, d.AutoDelete);
        AssertTable(original.Definition.Arguments, d.Arguments);
        Assert.Equal(original.Passive, back.Passive);
        Assert.Equal(original.ConnectionId, back.ConnectionId);
        AssertProbeRef(back.Connection);
    }

    [Fact]
    public void DeclareQueue_with_Nobody_round_trips()
    {
        var original = new DeclareQueue(
            new QueueDefinition("/", "q", false, true, false, new FieldTable()), false, "c", ActorRefs.Nobody);
        var back = RoundTrip(original);
        Assert.Same(ActorRefs.Nobody, back.Connection);
        Assert.Empty(back.Definition.Arguments);
        Assert.False(back.Definition.Durable);
        Assert.True(back.Definition.Exclusive);
        Assert.False(back.Passive);
    }

    [Fact]
    public void QueueDeclareResult_round_trips()
    {
        var back = RoundTrip(new QueueDeclareResult("orders", uint.MaxValue, 3));
        Assert.Equal("orders", back.Name);
        Assert.Equal(uint.MaxValue, back.MessageCount);
        Assert.Equal(3u, back.ConsumerCount);
    }

    [Fact]
    public void Publish_round_trips()
    {
        var original = new Publish(SampleMessage(), long.MaxValue);
        var back = RoundTrip(original);
        AssertMessage(original.Message, back.Message);
        Assert.Equal(long.MaxValue, back.ConfirmId);
    }

    [Fact]
    public void Publish_with_empty_properties_and_body_round_trips()
    {
        var props = new BasicProperties();
        var original = new Publish(new Message("", "q", props, ContentHeader.EncodeProperties(props), Array.Empty<byte>()), 0);
        var back = RoundTrip(original);
        AssertMessage(original.Message, back.Message);
        Assert.Empty(back.Message.Body);
        Assert.False(back.Message.Persistent);
        Assert.Equal(0, back.ConfirmId);
    }

    [Fact]
    public void Publish_with_a_16_MiB_body_round_trips()
    {
        var body = new byte[16 * 1024 * 1024];
        new Random(42).NextBytes(body);
        var original = new Publish(SampleMessage(body), 5);
        var back = RoundTrip(original);
        Assert.Equal(body.Length, back.Message.Body.Length);
        AssertMessage(original.Message, back.Message);
    }

    [Fact]
    public void Enqueued_round_trips()
    {
        var back = RoundTrip(new Enqueued(_probe.Ref, -5));
        AssertProbeRef(back.Queue);
        Assert.Equal(-5, back.ConfirmId);
    }

    [Fact]
    public void Enqueued_with_Nobody_round_trips()
    {
        var back = RoundTrip(new Enqueued(ActorRefs.Nobody, 1));
        Assert.Same(ActorRefs.Nobody, back.Queue);
        Assert.Equal(1, back.ConfirmId);
    }

    [Fact]
    public void EnqueueFailed_round_trips()
    {
        string reason = "queue 'orders' is full: " + new string('x', 400);
        var back = RoundTrip(new EnqueueFailed(_probe.Ref, 79, reason));
        AssertProbeRef(back.Queue);
        Assert.Equal(79, back.ConfirmId);
        Assert.Equal(reason, back.Reason);
    }

    [Fact]
    public void AddConsumer_round_trips()
    {
        var original = new AddConsumer("ctag-1", true, false, ushort.MaxValue, "conn-1", int.MaxValue);
        var back = RoundTrip(original);
        Assert.Equal(original.Tag, back.Tag);
        Assert.True(back.NoAck);
        Assert.False(back.Exclusive);
        Assert.Equal(ushort.MaxValue, back.Prefetch);
        Assert.Equal("conn-1", back.ConnectionId);
        Assert.Equal(int.MaxValue, back.Window);
        Assert.Equal(original, back);
    }

    [Fact]
    public void Consumer_tag_messages_round_trip()
    {
        Assert.Equal("ctag-1", RoundTrip(new ConsumerAdded("ctag-1")).Tag);
        Assert.Equal("ctag-2", RoundTrip(new RemoveConsumer("ctag-2")).Tag);
        Assert.Equal("ctag-3", RoundTrip(new ConsumerRemoved("ctag-3")).Tag);
        Assert.Equal("", RoundTrip(new ConsumerAdded("")).Tag);
    }

    [Fact]
    public void GetMessage_round_trips()
    {
        var back = RoundTrip(new GetMessage(true, "conn-7"));
        Assert.True(back.NoAck);
        Assert.Equal("conn-7", back.ConnectionId);
    }

    [Fact]
    public void GetResult_with_a_message_round_trips()
    {
        var original = new GetResult("orders", SampleQueued(), 9);
        var back = RoundTrip(original);
        Assert.Equal("orders", back.Queue);
        AssertQueued(original.Message!, Assert.IsType<QueuedMessage>(back.Message));
        Assert.Equal(9u, back.Remaining);
    }

    [Fact]
    public void GetResult_without_a_message_round_trips()
    {
        var back = RoundTrip(new GetResult("orders", null, 0));
        Assert.Equal("orders", back.Queue);
        Assert.Null(back.Message);
        Assert.Equal(0u, back.Remaining);
    }

    [Theory]
    [InlineData(Settlement.Ack)]
    [InlineData(Settlement.Requeue)]
    [InlineData(Settlement.Discard)]
    public void Settle_round_trips(Settlement outcome)
    {
        long[] ids = { 1, -2, 0, long.MaxValue, long.MinValue };
        var back = RoundTrip(new Settle(ids, outcome));
        Assert.Equal(ids, back.MessageIds);
        Assert.Equal(outcome, back.Outcome);
    }

    [Fact]
    public void Settle_with_no_ids_round_trips()
    {
        var back = RoundTrip(new Settle(Array.Empty<long>(), Settlement.Ack));
        Assert.Empty(back.MessageIds);
        Assert.Equal(Settlement.Ack, back.Outcome);
    }

    [Fact]
    public void ChannelGone_round_trips()
    {
        AssertProbeRef(RoundTrip(new ChannelGone(_probe.Ref)).Channel);
    }

    [Fact]
    public void Purge_and_delete_messages_round_trip()
    {
        Assert.Equal("conn-1", RoundTrip(new PurgeQueue("conn-1")).ConnectionId);
        Assert.Equal(17u, RoundTrip(new QueuePurged(17)).MessageCount);
        var delete = RoundTrip(new DeleteQueue(true, false, "conn-2"));
        Assert.True(delete.IfUnused);
        Assert.False(delete.IfEmpty);
        Assert.Equal("conn-2", delete.ConnectionId);
        var delete2 = RoundTrip(new DeleteQueue(false, true, ""));
        Assert.False(delete2.IfUnused);
        Assert.True(delete2.IfEmpty);
        Assert.Equal("", delete2.ConnectionId);
        Assert.Equal(uint.MaxValue, RoundTrip(new QueueDeleted(uint.MaxValue)).MessageCount);
    }

    [Fact]
    public void Singletons_read_back_as_their_instance()
    {
        Assert.Same(WakeEntity.Instance, RoundTrip(WakeEntity.Instance));
        Assert.Same(FlushJournal.Instance, RoundTrip(FlushJournal.Instance));
        Assert.Same(JournalFlushed.Instance, RoundTrip(JournalFlushed.Instance));
        Assert.Same(StopEntity.Instance, RoundTrip(StopEntity.Instance));
    }

    [Fact]
    public void EntityAwake_round_trips()
    {
        Assert.True(RoundTrip(new EntityAwake(true)).Exists);
        Assert.False(RoundTrip(new EntityAwake(false)).Exists);
    }

    [Fact]
    public void QueueCommandFailed_round_trips()
    {
        var original = new QueueCommandFailed(SampleError());
        AssertError(original.Error, RoundTrip(original).Error);
        var plain = new QueueCommandFailed(AmqpException.NotFound("no queue 'q' in vhost '/'"));
        AssertError(plain.Error, RoundTrip(plain).Error);
    }

    [Fact]
    public void Deliver_round_trips()
    {
        var original = new Deliver("orders", _probe.Ref, "ctag-1", SampleQueued(), true);
        var back = RoundTrip(original);
        Assert.Equal("orders", back.Queue);
        Assert.Equal("ctag-1", back.ConsumerTag);
        AssertQueued(original.Message, back.Message);
        Assert.True(back.NoAck);
        AssertProbeRef(back.QueueRef);
    }

    [Fact]
    public void Deliver_not_redelivered_round_trips()
    {
        var original = new Deliver("q", _probe.Ref, "t", new QueuedMessage(0, SampleMessage()), false);
        var back = RoundTrip(original);
        Assert.False(back.Message.Redelivered);
        Assert.Equal(0, back.Message.Id);
        Assert.False(back.NoAck);
        AssertMessage(original.Message.Message, back.Message.Message);
    }

    [Fact]
    public void ConsumerCancelled_round_trips()
    {
        var back = RoundTrip(new ConsumerCancelled("orders", "ctag-1"));
        Assert.Equal("orders", back.Queue);
        Assert.Equal("ctag-1", back.ConsumerTag);
    }

    [Fact]
    public void Credit_messages_round_trip()
    {
        // Totals, cumulative over a channel's life: longs, past the range of an int.
        var publish = RoundTrip(new PublishCredit(_probe.Ref, 5_000_000_000L, 6_000_000_000L));
        Assert.Equal(5_000_000_000L, publish.Granted);
        Assert.Equal(6_000_000_000L, publish.Received);
        AssertProbeRef(publish.Queue);
        var delivery = RoundTrip(new DeliveryCredit("ctag-1", 7_000_000_000L));
        Assert.Equal("ctag-1", delivery.ConsumerTag);
        Assert.Equal(7_000_000_000L, delivery.Written);
        Assert.Same(PublishCreditProbe.Instance, RoundTrip(PublishCreditProbe.Instance));
    }

    // ---- exchange messages ---------------------------------------------------------------

    [Fact]
    public void DeclareExchange_round_trips()
    {
        var original = new DeclareExchange(SampleExchangeDefinition(), true);
        var back = RoundTrip(original);
        var e = original.Definition;
        var a = back.Definition;
        Assert.Equal(e.VHost, a.VHost);
        Assert.Equal(e.Name, a.Name);
        Assert.Equal(e.Type, a.Type);
        Assert.Equal(e.Durable, a.Durable);
        Assert.Equal(e.AutoDelete, a.AutoDelete);
        Assert.Equal(e.Internal, a.Internal);
        AssertTable(e.Arguments, a.Arguments);
        Assert.True(back.Passive);

        var plain = RoundTrip(new DeclareExchange(
            new ExchangeDefinition("/", "amq.fanout", ExchangeType.Fanout, false, true, false, new FieldTable()), false));
        Assert.False(plain.Definition.Durable);
        Assert.True(plain.Definition.AutoDelete);
        Assert.False(plain.Definition.Internal);
        Assert.Empty(plain.Definition.Arguments);
        Assert.False(plain.Passive);
    }

    [Fact]
    public void Exchange_name_messages_round_trip()
    {
        Assert.Equal("orders-x", RoundTrip(new ExchangeDeclared("orders-x")).Name);
        Assert.Equal("orders-y", RoundTrip(new ExchangeDeleted("orders-y")).Name);
        Assert.True(RoundTrip(new DeleteExchange(true)).IfUnused);
        Assert.False(RoundTrip(new DeleteExchange(false)).IfUnused);
    }

    [Fact]
    public void Binding_messages_round_trip()
    {
        var binding = SampleBinding();
        var add = RoundTrip(new AddBinding(binding, true));
        AssertBinding(binding, add.Binding);
        Assert.True(add.DestinationDurable);
        Assert.False(RoundTrip(new AddBinding(binding, false)).DestinationDurable);
        AssertBinding(binding, RoundTrip(new BindingAdded(binding)).Binding);
        AssertBinding(binding, RoundTrip(new RemoveBinding(binding)).Binding);
        AssertBinding(binding, RoundTrip(new BindingRemoved(binding)).Binding);

        var toExchange = new Binding("a", "b", true, "", new FieldTable());
        var back = RoundTrip(new BindingAdded(toExchange)).Binding;
        AssertBinding(toExchange, back);
        Assert.True(back.SameAs(toExchange));
    }

    [Fact]
    public void RemoveBindingsTo_and_BindingsRemoved_round_trip()
    {
        var remove = RoundTrip(new RemoveBindingsTo("orders", true));
        Assert.Equal("orders", remove.Destination);
        Assert.True(remove.ToExchange);
        Assert.False(RoundTrip(new RemoveBindingsTo("q", false)).ToExchange);
        Assert.Equal("orders", RoundTrip(new BindingsRemoved("orders")).Destination);
    }

    [Fact]
    public void ExchangeCommandFailed_round_trips()
    {
        var original = new ExchangeCommandFailed(SampleError());
        AssertError(original.Error, RoundTrip(original).Error);
    }

    // ---- errors --------------------------------------------------------------------------

    [Fact]
    public void Unknown_manifest_throws()
    {
        var serializer = SerializerFor(StopEntity.Instance);
        var e = Assert.Throws<SerializationException>(() => serializer.FromBinary(Array.Empty<byte>(), "zz9"));
        Assert.Contains("'zz9'", e.Message);
    }

    [Fact]
    public void Truncated_bytes_throw_a_serialization_error()
    {
        var serializer = SerializerFor(StopEntity.Instance);
        var original = new Publish(SampleMessage(), 1);
        byte[] bytes = serializer.ToBinary(original);
        Assert.Throws<SerializationException>(() => serializer.FromBinary(bytes[..^3], serializer.Manifest(original)));
    }
}
