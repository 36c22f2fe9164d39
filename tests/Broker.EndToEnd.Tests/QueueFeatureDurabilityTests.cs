using RabbitMQ.Client;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// The durable rows of the queue features across restarts and crashes: a message's expiry counts
/// from its publish (not from the restart), an unused queue still expires after a restart, and a
/// dead-lettered persistent message is never lost when the node is killed in the middle of
/// dead-lettering (it is in its target's journal before it leaves its source's).
/// </summary>
public sealed class QueueFeatureDurabilityTests : IAsyncLifetime
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "broker-features-" + Guid.NewGuid().ToString("N"));

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }

        return Task.CompletedTask;
    }

    private static BasicProperties Persistent => new() { DeliveryMode = DeliveryModes.Persistent };

    private static Dictionary<string, object?> Args(params (string Key, object? Value)[] args) => args.ToDictionary(a => a.Key, a => a.Value);

    private static async Task<IChannel> ConfirmChannel(IConnection conn) =>
        await conn.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));

    [Fact]
    public async Task Expiry_counts_from_the_publish_across_a_restart()
    {
        var node = await BrokerFixture.StartAsync(new(), _dataDir);
        await using (var conn = await node.ConnectAsync())
        await using (var ch = await ConfirmChannel(conn))
        {
            await ch.ExchangeDeclareAsync("ttl-dlx", ExchangeType.Fanout, durable: true);
            await ch.QueueDeclareAsync("ttl-dlq", durable: true, exclusive: false, autoDelete: false);
            await ch.QueueBindAsync("ttl-dlq", "ttl-dlx", "");
            await ch.QueueDeclareAsync("ttl-q", durable: true, exclusive: false, autoDelete: false,
                Args(("x-message-ttl", 60_000), ("x-dead-letter-exchange", "ttl-dlx")));
            var shortLived = Persistent;
            shortLived.Expiration = "1000";
            await ch.BasicPublishAsync("", "ttl-q", true, shortLived, Body("dies while the node is down"));
            await ch.BasicPublishAsync("", "ttl-q", true, Persistent, Body("outlives the restart"));
        }

        long deadline = Environment.TickCount64 + 1000;
        await node.DisposeAsync();
        // The point is that the deadline passes while the node is down: wait for exactly that.
        await Wait.Until(() => Environment.TickCount64 > deadline + 100, "the first message's deadline to pass");
        node = await BrokerFixture.StartAsync(new(), _dataDir);
        try
        {
            await using var conn = await node.ConnectAsync();
            await using var ch = await conn.CreateChannelAsync();
            // The first message's deadline passed while the node was down: it is dead-lettered at
            // recovery, never delivered; the other one is still there.
            await Wait.Until(async () => (await ch.QueueDeclarePassiveAsync("ttl-dlq")).MessageCount == 1, "the expired message in the dead-letter queue");
            var dead = await ch.BasicGetAsync("ttl-dlq", autoAck: true);
            Assert.Equal("dies while the node is down", Text(dead!.Body));
            var first = await ch.BasicGetAsync("ttl-q", autoAck: true);
            Assert.Equal("outlives the restart", Text(first!.Body));
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_durable_delayed_message_survives_a_restart_and_is_routed_when_due()
    {
        var node = await BrokerFixture.StartAsync(new(), _dataDir);
        long dueAt;
        await using (var conn = await node.ConnectAsync())
        await using (var ch = await ConfirmChannel(conn))
        {
            await ch.ExchangeDeclareAsync("delayed-x", "x-delayed-message", durable: true, autoDelete: false, DelayedMessageTests.DelayedDirect);
            await ch.QueueDeclareAsync("delayed-q", durable: true, exclusive: false, autoDelete: false);
            await ch.QueueBindAsync("delayed-q", "delayed-x", "k");
            // Taken before the publish: the broker counts the delay from when the message reached it.
            dueAt = Environment.TickCount64 + 3000;
            await ch.BasicPublishAsync("delayed-x", "k", true, DelayedMessageTests.Delayed(3000, persistent: true), Body("held"));
        }

        await node.DisposeAsync();
        node = await BrokerFixture.StartAsync(new(), _dataDir);
        try
        {
            await using var conn = await node.ConnectAsync();
            await using var ch = await conn.CreateChannelAsync();
            if (Environment.TickCount64 < dueAt - 200)
            {
                Assert.Equal(0u, (await ch.QueueDeclarePassiveAsync("delayed-q")).MessageCount);
            }

            await Wait.Until(async () => (await ch.QueueDeclarePassiveAsync("delayed-q")).MessageCount == 1, "the delayed message", TimeSpan.FromSeconds(15));
            Assert.True(Environment.TickCount64 >= dueAt - 50, "routed before it was due");
            Assert.Equal("held", Text((await ch.BasicGetAsync("delayed-q", true))!.Body));
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_policy_survives_a_restart()
    {
        var node = await BrokerFixture.StartAsync(new(), _dataDir);
        var (code, output) = await PolicyTests.Cli(node.Uri, "set", "short-lived", "^short\\.", "{\"message-ttl\":50}", "--apply-to", "queues");
        Assert.True(code == 0, output);
        await node.DisposeAsync();
        node = await BrokerFixture.StartAsync(new(), _dataDir);
        try
        {
            (code, output) = await PolicyTests.Cli(node.Uri, "list");
            Assert.True(code == 0, output);
            Assert.Contains("short-lived", output);
            await using var conn = await node.ConnectAsync();
            await using var ch = await conn.CreateChannelAsync();
            await ch.QueueDeclareAsync("short.q", durable: false, exclusive: false, autoDelete: false);
            await ch.BasicPublishAsync("", "short.q", Body("m"));
            await Wait.Until(async () => (await ch.QueueDeclarePassiveAsync("short.q")).MessageCount == 0, "the message to expire");
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_unused_durable_queue_expires_after_a_restart_too()
    {
        var node = await BrokerFixture.StartAsync(new(), _dataDir);
        await using (var conn = await node.ConnectAsync())
        await using (var ch = await conn.CreateChannelAsync())
        {
            await ch.QueueDeclareAsync("expiring", durable: true, exclusive: false, autoDelete: false, Args(("x-expires", 1500)));
        }

        await node.DisposeAsync();
        node = await BrokerFixture.StartAsync(new(), _dataDir);
        try
        {
            await using var conn = await node.ConnectAsync();
            var ch = await conn.CreateChannelAsync();
            await ch.QueueDeclarePassiveAsync("expiring");
            await Wait.Until(async () =>
            {
                var probe = await conn.CreateChannelAsync();
                try
                {
                    await probe.QueueDeclarePassiveAsync("expiring");
                    return false;
                }
                catch (RabbitMQ.Client.Exceptions.OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
                {
                    return true;
                }
            }, "the queue to expire");
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_dead_lettered_message_leaves_its_source_only_once_its_target_has_it()
    {
        // The target takes 100 and refuses the rest (reject-publish): those stay in the source's
        // journal, retried, so a kill finds every message in one queue or the other.
        const int n = 300;
        var env = new Dictionary<string, string> { ["BROKER_DATA_DIR"] = _dataDir };
        var node = await NodeProcess.StartAsync(env);
        int port = node.Port;
        try
        {
            var factory = new ConnectionFactory { Uri = new Uri(node.Uri), AutomaticRecoveryEnabled = false };
            await using (var conn = await factory.CreateConnectionAsync())
            await using (var ch = await ConfirmChannel(conn))
            {
                await ch.ExchangeDeclareAsync("crash-dlx", ExchangeType.Fanout, durable: true);
                await ch.QueueDeclareAsync("crash-dlq", durable: true, exclusive: false, autoDelete: false,
                    Args(("x-max-length", 100), ("x-overflow", "reject-publish")));
                await ch.QueueBindAsync("crash-dlq", "crash-dlx", "");
                await ch.QueueDeclareAsync("crash-src", durable: true, exclusive: false, autoDelete: false, Args(("x-dead-letter-exchange", "crash-dlx")));
                for (int i = 0; i < n; i++)
                {
                    await ch.BasicPublishAsync("", "crash-src", true, Persistent, Body(i.ToString()));
                }

                await ch.BasicQosAsync(0, n, false);
                var (_, deliveries) = await ConsumeAsync(ch, "crash-src");
                ulong last = 0;
                for (int i = 0; i < n; i++)
                {
                    last = (await deliveries.NextAsync()).DeliveryTag;
                }

                await ch.BasicNackAsync(last, multiple: true, requeue: false);
                await Wait.Until(async () => (await ch.QueueDeclarePassiveAsync("crash-dlq")).MessageCount == 100, "the target to fill up");
                await node.KillAsync();
            }

            await node.DisposeAsync();
            node = await NodeProcess.StartAsync(env, port);
            factory = new ConnectionFactory { Uri = new Uri(node.Uri), AutomaticRecoveryEnabled = false };
            await using var conn2 = await factory.CreateConnectionAsync();
            await using var ch2 = await conn2.CreateChannelAsync();
            var seen = new HashSet<string>();
            foreach (var q in new[] { "crash-src", "crash-dlq" })
            {
                while (await ch2.BasicGetAsync(q, autoAck: true) is { } r)
                {
                    seen.Add(Text(r.Body));
                }
            }

            // Every message is in one queue or the other; one the target took whose removal from
            // the source was not yet written is in both (at least once).
            Assert.Equal(Enumerable.Range(0, n).Select(i => i.ToString()).OrderBy(s => s), seen.OrderBy(s => s));
        }
        finally
        {
            await node.DisposeAsync();
        }
    }
}
