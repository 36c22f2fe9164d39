using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Xunit.Abstractions;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>Three node processes started together on an empty PostgreSQL, shared by the tests of the "cluster" collection.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    private ClusterNodes? _cluster;

    public ClusterNodes Cluster => _cluster ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _cluster = await ClusterNodes.StartAsync(3);

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}

[CollectionDefinition("cluster")]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
}

/// <summary>
/// Any node serves any queue and exchange: what is declared through one node is used through the
/// others (read-your-writes: right after declare-ok / bind-ok), publishes and deliveries cross
/// nodes, and exclusive / non-durable queues live on the node that declared them.
/// </summary>
[Collection("cluster")]
public sealed class ClusterTests
{
    private readonly ClusterNodes _cluster;
    private readonly ITestOutputHelper _log;

    public ClusterTests(ClusterFixture fixture, ITestOutputHelper log)
    {
        _cluster = fixture.Cluster;
        _log = log;
    }

    private static BasicProperties Persistent => new() { DeliveryMode = DeliveryModes.Persistent };

    /// <summary>The connections one test opens (to any node), closed at its end.</summary>
    private sealed class Clients(ClusterNodes cluster) : IAsyncDisposable
    {
        public List<IConnection> Connections { get; } = new();

        public async Task<IChannel> ChannelOn(int node, bool confirms = false)
        {
            var c = await cluster.ConnectAsync(node);
            Connections.Add(c);
            return await c.CreateChannelAsync(new CreateChannelOptions(confirms, confirms));
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var c in Connections)
            {
                await c.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Declared_on_one_node_every_operation_works_from_the_others()
    {
        await using var clients = new Clients(_cluster);
        string q = UniqueName("c-ops"), x = UniqueName("c-ops-x");
        var a = await clients.ChannelOn(0);
        await a.ExchangeDeclareAsync(x, ExchangeType.Direct, durable: true);
        await a.QueueDeclareAsync(q, durable: true, exclusive: false, autoDelete: false);
        await a.QueueBindAsync(q, x, "k");

        // Passive declares, publish through the exchange and basic.get through node 2.
        var b = await clients.ChannelOn(1, confirms: true);
        await b.ExchangeDeclarePassiveAsync(x);
        var ok = await b.QueueDeclarePassiveAsync(q);
        Assert.Equal(0u, ok.MessageCount);
        for (int i = 0; i < 5; i++)
        {
            await b.BasicPublishAsync(x, "k", mandatory: true, Persistent, Body("m" + i));
        }

        var got = await b.BasicGetAsync(q, autoAck: false);
        Assert.NotNull(got);
        Assert.Equal("m0", Text(got!.Body));
        await b.BasicAckAsync(got.DeliveryTag, false);

        // Consume and nack/requeue, reject and ack through node 3.
        var c = await clients.ChannelOn(2);
        await c.BasicQosAsync(0, 1, false); // one at a time, so a requeued message comes next
        var (_, deliveries) = await ConsumeAsync(c, q);
        var first = await deliveries.NextAsync();
        Assert.Equal("m1", Text(first.Body));
        await c.BasicNackAsync(first.DeliveryTag, false, requeue: true);
        var again = await deliveries.NextAsync();
        Assert.Equal("m1", Text(again.Body));
        Assert.True(again.Redelivered);
        await c.BasicRejectAsync(again.DeliveryTag, requeue: false);
        for (int i = 2; i < 5; i++)
        {
            var d = await deliveries.NextAsync();
            Assert.Equal("m" + i, Text(d.Body));
            await c.BasicAckAsync(d.DeliveryTag, false);
        }

        // Purge through node 2, unbind through node 3, delete through node 2: node 1 sees it gone.
        await b.BasicPublishAsync(x, "k", mandatory: true, Persistent, Body("late"));
        await Wait.Until(() => c.MessageCountAsync(q).GetAwaiter().GetResult() == 0, "the consumer to take 'late'", TimeSpan.FromSeconds(10));
        await c.QueueUnbindAsync(q, x, "k");
        // Unbound through node 3: node 2 returns the next mandatory publish (the client raises it).
        var returned = await Assert.ThrowsAsync<PublishReturnException>(
            () => b.BasicPublishAsync(x, "k", mandatory: true, Persistent, Body("unrouted")).AsTask());
        Assert.Contains("312 NO_ROUTE", returned.Message);
        Assert.Equal(0u, await b.QueuePurgeAsync(q));
        await b.QueueDeleteAsync(q);
        await b.ExchangeDeleteAsync(x);

        var check = await clients.ChannelOn(0);
        Assert.Equal(404, await ChannelErrorCode(check, () => check.QueueDeclarePassiveAsync(q)));
        var check2 = await clients.ChannelOn(2);
        Assert.Equal(404, await ChannelErrorCode(check2, () => check2.ExchangeDeclarePassiveAsync(x)));
    }

    [Fact]
    public async Task Publish_on_one_node_to_a_queue_on_another_consumed_on_the_third()
    {
        await using var clients = new Clients(_cluster);
        string q = UniqueName("c-cross");
        var declare = await clients.ChannelOn(0);
        await declare.QueueDeclareAsync(q, durable: true, exclusive: false, autoDelete: false);
        int owner = _cluster.OwnerOf(q);
        Assert.True(owner >= 0, "no node logged the queue");
        int publisherNode = (owner + 1) % 3, consumerNode = (owner + 2) % 3;
        _log.WriteLine($"queue on node {owner + 1}, publishing on node {publisherNode + 1}, consuming on node {consumerNode + 1}");

        var consumer = await clients.ChannelOn(consumerNode);
        await consumer.BasicQosAsync(0, 200, false);
        var (_, deliveries) = await ConsumeAsync(consumer, q);
        var publisher = await clients.ChannelOn(publisherNode, confirms: true);
        const int count = 3000;
        var pending = new List<ValueTask>();
        for (int i = 0; i < count; i++)
        {
            pending.Add(publisher.BasicPublishAsync("", q, mandatory: true, Persistent, Body(i.ToString())));
            if (pending.Count == 200)
            {
                foreach (var p in pending)
                {
                    await p;
                }

                pending.Clear();
            }
        }

        foreach (var p in pending)
        {
            await p;
        }

        for (int i = 0; i < count; i++)
        {
            var d = await deliveries.NextAsync();
            Assert.Equal(i.ToString(), Text(d.Body));
            await consumer.BasicAckAsync(d.DeliveryTag, false);
        }
    }

    [Fact]
    public async Task A_16_MiB_message_crosses_nodes_intact()
    {
        await using var clients = new Clients(_cluster);
        string q = UniqueName("c-big");
        var declare = await clients.ChannelOn(0);
        await declare.QueueDeclareAsync(q, durable: true, exclusive: false, autoDelete: false);
        int owner = _cluster.OwnerOf(q);
        var body = new byte[16 * 1024 * 1024];
        new Random(7).NextBytes(body);
        var publisher = await clients.ChannelOn((owner + 1) % 3, confirms: true);
        await publisher.BasicPublishAsync("", q, mandatory: true, Persistent, body);
        var consumer = await clients.ChannelOn((owner + 2) % 3);
        var got = await consumer.BasicGetAsync(q, autoAck: true);
        Assert.NotNull(got);
        Assert.True(body.AsSpan().SequenceEqual(got!.Body.Span), "body changed on its way");
    }

    [Fact]
    public async Task A_binding_is_used_by_every_node_right_after_bind_ok()
    {
        await using var clients = new Clients(_cluster);
        var a = await clients.ChannelOn(0);
        var b = await clients.ChannelOn(1, confirms: true);
        var returns = 0;
        b.BasicReturnAsync += (_, _) =>
        {
            Interlocked.Increment(ref returns);
            return Task.CompletedTask;
        };
        for (int i = 0; i < 10; i++)
        {
            string x = UniqueName("c-ryw-x"), q = UniqueName("c-ryw");
            await a.ExchangeDeclareAsync(x, ExchangeType.Topic, durable: false);
            await a.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: false);
            await a.QueueBindAsync(q, x, "a.#");
            // Node 2 routes by the new binding at once: no basic.return, the message is in the queue.
            await b.BasicPublishAsync(x, "a.b", mandatory: true, new BasicProperties(), Body("x"));
            Assert.Equal(1u, await b.MessageCountAsync(q));
            await a.QueueDeleteAsync(q);
            await a.ExchangeDeleteAsync(x);
        }

        Assert.Equal(0, returns);
    }

    [Fact]
    public async Task Exclusive_and_non_durable_queues_live_on_the_declaring_node_and_are_reachable_from_others()
    {
        await using var clients = new Clients(_cluster);
        var one = await clients.ChannelOn(0);
        string exclusive = (await one.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: false)).QueueName;
        var two = await clients.ChannelOn(1);
        string transient = UniqueName("c-transient");
        await two.QueueDeclareAsync(transient, durable: false, exclusive: false, autoDelete: false);
        Assert.Equal(0, _cluster.OwnerOf(exclusive));
        Assert.Equal(1, _cluster.OwnerOf(transient));

        // Publish through node 3 to both; read them back through other nodes.
        var three = await clients.ChannelOn(2, confirms: true);
        await three.BasicPublishAsync("", exclusive, mandatory: true, new BasicProperties(), Body("to-exclusive"));
        await three.BasicPublishAsync("", transient, mandatory: true, new BasicProperties(), Body("to-transient"));
        var e = await one.BasicGetAsync(exclusive, autoAck: true);
        Assert.Equal("to-exclusive", Text(e!.Body));
        var t = await three.BasicGetAsync(transient, autoAck: true);
        Assert.Equal("to-transient", Text(t!.Body));

        // Another connection (on another node) may not use the exclusive queue.
        var other = await clients.ChannelOn(2);
        Assert.Equal(405, await ChannelErrorCode(other, () => other.BasicGetAsync(exclusive, autoAck: true)));

        // Closing its connection deletes it everywhere.
        await clients.Connections[0].CloseAsync();
        var check = await clients.ChannelOn(1);
        await Wait.Until(() =>
        {
            try
            {
                check.QueueDeclarePassiveAsync(exclusive).GetAwaiter().GetResult();
                return false;
            }
            catch (OperationInterruptedException)
            {
                return true;
            }
        }, "the exclusive queue to go", TimeSpan.FromSeconds(10));
        await two.QueueDeleteAsync(transient);
    }
    [Fact]
    public async Task Queue_features_work_across_nodes()
    {
        await using var clients = new Clients(_cluster);
        string prefix = UniqueName("c-feat");

        // Direct reply-to: the requester on node 0, the server on node 1.
        var requester = await clients.ChannelOn(0);
        var server = await clients.ChannelOn(1);
        string rpc = prefix + "-rpc";
        await server.QueueDeclareAsync(rpc, durable: true, exclusive: false, autoDelete: false);
        var (_, requests) = await ConsumeAsync(server, rpc, autoAck: true);
        var (_, replies) = await ConsumeAsync(requester, "amq.rabbitmq.reply-to", autoAck: true);
        await requester.BasicPublishAsync("", rpc, false, new BasicProperties { ReplyTo = "amq.rabbitmq.reply-to", CorrelationId = "c1" }, Body("ping"));
        var request = await requests.NextAsync();
        await server.BasicPublishAsync("", request.BasicProperties.ReplyTo!, false, new BasicProperties { CorrelationId = "c1" }, Body("pong"));
        Assert.Equal("pong", Text((await replies.NextAsync()).Body));

        // A policy set through node 2 dead-letters expired messages of a queue declared through node 0
        // into a queue declared through node 1; a delayed message published through node 1 arrives.
        string dlx = prefix + "-dlx", dlq = prefix + "-dlq", ttl = prefix + "-ttl";
        var b = await clients.ChannelOn(1, confirms: true);
        await b.ExchangeDeclareAsync(dlx, ExchangeType.Fanout, durable: true);
        await b.QueueDeclareAsync(dlq, durable: true, exclusive: false, autoDelete: false);
        await b.QueueBindAsync(dlq, dlx, "");
        var (code, output) = await PolicyTests.Cli(_cluster[2].Uri, "set", prefix, $"^{prefix}-ttl$",
            $"{{\"message-ttl\":100,\"dead-letter-exchange\":\"{dlx}\"}}");
        Assert.True(code == 0, output);
        var a = await clients.ChannelOn(0, confirms: true);
        await a.QueueDeclareAsync(ttl, durable: true, exclusive: false, autoDelete: false);
        await a.BasicPublishAsync("", ttl, true, Persistent, Body("expires"));
        await Wait.Until(async () => (await b.QueueDeclarePassiveAsync(dlq)).MessageCount == 1, "the expired message in the dead-letter queue");
        var dead = await b.BasicGetAsync(dlq, autoAck: true);
        Assert.Equal("expires", Text(dead!.Body));
        (code, output) = await PolicyTests.Cli(_cluster[0].Uri, "clear", prefix);
        Assert.True(code == 0, output);

        string delayed = prefix + "-delayed", target = prefix + "-target";
        await a.ExchangeDeclareAsync(delayed, "x-delayed-message", durable: true, autoDelete: false,
            new Dictionary<string, object?> { ["x-delayed-type"] = "fanout" });
        await a.QueueDeclareAsync(target, durable: true, exclusive: false, autoDelete: false);
        await a.QueueBindAsync(target, delayed, "");
        await b.BasicPublishAsync(delayed, "", true, DelayedMessageTests.Delayed(200, persistent: true), Body("later"));
        await Wait.Until(async () => (await b.QueueDeclarePassiveAsync(target)).MessageCount == 1, "the delayed message");
        await a.ExchangeDeleteAsync(delayed);
        foreach (var q in new[] { rpc, dlq, ttl, target })
        {
            await a.QueueDeleteAsync(q);
        }

        await a.ExchangeDeleteAsync(dlx);
    }

    /// <summary>As in RabbitMQ, an alarm on any node blocks publishers on every node; when it clears they are unblocked.</summary>
    [Fact]
    public async Task An_alarm_on_one_node_blocks_publishers_on_the_others()
    {
        await using var clients = new Clients(_cluster);
        string q = UniqueName("c-alarm");
        var pub = await clients.ChannelOn(2, confirms: true);
        var connection = clients.Connections[^1];
        var blocked = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var unblocked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.ConnectionBlockedAsync += (_, e) =>
        {
            blocked.TrySetResult(e.Reason);
            return Task.CompletedTask;
        };
        connection.ConnectionUnblockedAsync += (_, _) =>
        {
            unblocked.TrySetResult();
            return Task.CompletedTask;
        };
        await pub.QueueDeclareAsync(q, durable: true, exclusive: false, autoDelete: false);

        try
        {
            string listing = await NodeCli.OkAsync(_cluster[0].Uri, "alarms", "set-disk-free-limit", "1000000TB");
            Assert.Contains($"{ClusterNodes.NodeName(0)}\tdisk", listing);
            // Node 3 learns of node 1's alarm from node 1 (at once, and every second).
            using var api = new ManagementClient(_cluster[2].ManagementUri);
            await Wait.Until(async () => await api.StatusOf(HttpMethod.Get, "/api/health/checks/alarms") == System.Net.HttpStatusCode.ServiceUnavailable,
                "node 3 to report node 1's alarm");
            await pub.BasicPublishAsync("", q, true, Persistent, Body("first"));
            Assert.Equal("low on disk", await Wait.For(blocked.Task));
            var held = pub.BasicPublishAsync("", q, true, Persistent, Body("held")).AsTask();

            await NodeCli.OkAsync(_cluster[0].Uri, "alarms", "set-disk-free-limit", "50MB");
            await Wait.For(unblocked.Task);
            await Wait.For(held);
            Assert.Equal(2u, (await pub.QueueDeclarePassiveAsync(q)).MessageCount);
            await pub.QueueDeleteAsync(q);
        }
        finally
        {
            // Whatever happened, the next test finds no alarm anywhere.
            await NodeCli.RunAsync(_cluster[0].Uri, "alarms", "set-disk-free-limit", "50MB");
            foreach (var node in _cluster.Nodes)
            {
                using var api = new ManagementClient(node.ManagementUri);
                await Wait.Until(async () => await api.StatusOf(HttpMethod.Get, "/api/health/checks/alarms") == System.Net.HttpStatusCode.OK,
                    $"{node} to report no alarm");
            }
        }
    }
}
