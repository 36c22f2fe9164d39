using System.Diagnostics;
using RabbitMQ.Client;
using Xunit.Abstractions;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// Node loss, node join and whole-cluster restart, each on a cluster of its own (three node
/// processes over one throwaway PostgreSQL), with real processes killed by SIGKILL.
/// Confirmed messages are never lost; a publish that cannot reach its queue is nacked, never
/// confirmed; consumers lose nothing (unacked messages come back, flagged redelivered).
/// </summary>
public sealed class ClusterFailoverTests : IClassFixture<PostgresFixture>
{
    private readonly PostgresFixture _postgres;
    private readonly ITestOutputHelper _log;

    public ClusterFailoverTests(PostgresFixture postgres, ITestOutputHelper log)
    {
        _postgres = postgres;
        _log = log;
    }

    /// <summary>Each test gets an empty database of its own on the shared server.</summary>
    private async Task<ClusterNodes> StartClusterAsync(int nodes = 3)
    {
        await _postgres.Server.PsqlAsync("DROP SCHEMA public CASCADE; CREATE SCHEMA public;");
        return await ClusterNodes.StartAsync(nodes, _postgres.Server);
    }

    private static string Tail(string output) => output.Length <= 8000 ? output : output[^8000..];

    private static string Missing(IEnumerable<long> confirmed, HashSet<long> seen)
    {
        var missing = confirmed.Where(s => !seen.Contains(s)).OrderBy(s => s).ToList();
        return missing.Count == 0 ? "none" : $"{missing.Count}: {string.Join(",", missing.Take(30))}";
    }

    [Fact]
    public async Task Sigkill_of_the_node_that_owns_a_queue_loses_no_confirmed_message()
    {
        await using var cluster = await StartClusterAsync();
        string q = UniqueName("fo");
        await using (var c = await cluster.ConnectAsync(0))
        await using (var ch = await c.CreateChannelAsync())
        {
            await ch.QueueDeclareAsync(q, durable: true, exclusive: false, autoDelete: false);
        }

        int owner = cluster.OwnerOf(q);
        int publisherNode = (owner + 1) % 3, consumerNode = (owner + 2) % 3;
        await using var pubConn = await cluster.ConnectAsync(publisherNode);
        await using var conConn = await cluster.ConnectAsync(consumerNode);
        var pubCh = await pubConn.CreateChannelAsync(new CreateChannelOptions(true, true));
        await using var consumer = new ResilientConsumer(conConn, q);
        await using var publisher = new ConfirmingPublisher(pubCh, new[] { q });
        await Wait.Until(() => publisher.Confirmed.Count > 2000, "confirmed load before the kill", TimeSpan.FromSeconds(30));

        var killedAt = publisher.Elapsed;
        await cluster[owner].KillAsync();
        _log.WriteLine($"killed node {owner + 1} (owner of {q}); publishing on node {publisherNode + 1}, consuming on node {consumerNode + 1}");

        // A transaction that publishes to the queue while it fails over is not committed.
        var tx = await pubConn.CreateChannelAsync();
        await tx.TxSelectAsync();
        await tx.BasicPublishAsync("", q, false, new BasicProperties { DeliveryMode = DeliveryModes.Persistent }, Body("-1"));
        Assert.Equal(406, await ChannelErrorCode(tx, () => tx.TxCommitAsync()));
        try
        {
            await Wait.Until(() => publisher.FirstConfirmAfter(killedAt + TimeSpan.FromMilliseconds(100)) is not null,
                "confirms to resume after the kill", TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"confirms did not resume within 60 s of the kill ({publisher.Failed} nacked/failed)\n" +
                        string.Join("\n", new[] { publisherNode, consumerNode }.Select(i => $"--- node {i + 1} ---\n" + Tail(cluster[i].Output))));
        }

        var resumed = publisher.FirstConfirmAfter(killedAt + TimeSpan.FromMilliseconds(100))!.Value - killedAt;
        await Wait.Until(() => publisher.Confirmed.Count(kv => true) > 0 && publisher.Elapsed > killedAt + resumed + TimeSpan.FromSeconds(2),
            "load after the failover", TimeSpan.FromSeconds(30));
        await publisher.StopAsync();
        var confirmed = publisher.Confirmed.Keys.ToList();
        _log.WriteLine($"publishing resumed {resumed.TotalSeconds:F1} s after the kill; {confirmed.Count} confirmed, {publisher.Failed} nacked/failed; " +
                       $"queue now on node {cluster.OwnerOf(q) + 1}");

        await Wait.Until(() => confirmed.All(consumer.Seen.Contains), "every confirmed message to be consumed", TimeSpan.FromSeconds(60))
            .ContinueWith(t =>
            {
                if (t.IsFaulted)
                {
                    Assert.Fail($"confirmed but never consumed: {Missing(confirmed, consumer.Seen)}\n" +
                                $"--- publisher node ---\n{cluster[publisherNode].Output[^Math.Min(4000, cluster[publisherNode].Output.Length)..]}");
                }
            });
        _log.WriteLine($"consumer re-subscribed {consumer.Resubscriptions} time(s), saw {consumer.Deliveries.Count} deliveries");
        Assert.True(cluster.OwnerOf(q) >= 0 && cluster.OwnerOf(q) != owner);
    }

    [Fact]
    public async Task A_consumer_node_that_dies_leaves_its_unacked_messages_to_the_others_flagged_redelivered()
    {
        await using var cluster = await StartClusterAsync();
        string q = UniqueName("fo-consumer");
        await using (var c = await cluster.ConnectAsync(0))
        await using (var ch = await c.CreateChannelAsync(new CreateChannelOptions(true, true)))
        {
            await ch.QueueDeclareAsync(q, durable: true, exclusive: false, autoDelete: false);
            for (int i = 0; i < 20; i++)
            {
                await ch.BasicPublishAsync("", q, true, new BasicProperties { DeliveryMode = DeliveryModes.Persistent }, Body(i.ToString()));
            }
        }

        int owner = cluster.OwnerOf(q);
        int doomed = (owner + 1) % 3, survivor = (owner + 2) % 3;
        var doomedConn = await cluster.ConnectAsync(doomed);
        var doomedCh = await doomedConn.CreateChannelAsync();
        // Its connection's exclusive queue lives on its node and goes with it.
        string exclusive = (await doomedCh.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: false)).QueueName;
        await doomedCh.BasicQosAsync(0, 10, false);
        var (_, held) = await ConsumeAsync(doomedCh, q);
        for (int i = 0; i < 10; i++)
        {
            await held.NextAsync(); // delivered, never acked
        }

        var clock = Stopwatch.StartNew();
        await cluster[doomed].KillAsync();
        await using var conn = await cluster.ConnectAsync(survivor);
        var ch2 = await conn.CreateChannelAsync();
        var (_, deliveries) = await ConsumeAsync(ch2, q, autoAck: true);
        var got = new List<(string Body, bool Redelivered)>();
        for (int i = 0; i < 20; i++)
        {
            var d = await deliveries.NextAsync(TimeSpan.FromSeconds(60));
            got.Add((Text(d.Body), d.Redelivered));
        }

        _log.WriteLine($"the 10 held messages came back {clock.Elapsed.TotalSeconds:F1} s after the consumer's node was killed");
        Assert.Equal(Enumerable.Range(0, 20).Select(i => i.ToString()).OrderBy(s => s), got.Select(g => g.Body).OrderBy(s => s));
        Assert.All(got.Where(g => int.Parse(g.Body) < 10), g => Assert.True(g.Redelivered, $"message {g.Body} not flagged redelivered"));
        Assert.All(got.Where(g => int.Parse(g.Body) >= 10), g => Assert.False(g.Redelivered, $"message {g.Body} flagged redelivered"));
        // Once the cluster removed the dead node, its exclusive queue is gone everywhere (405 locked until then).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        ushort code;
        do
        {
            var check = await conn.CreateChannelAsync();
            code = await ChannelErrorCode(check, () => check.QueueDeclarePassiveAsync(exclusive));
            if (code != 404)
            {
                await Task.Delay(200);
            }
        }
        while (code != 404 && DateTime.UtcNow < deadline);

        Assert.Equal(404, code);
        await doomedConn.DisposeAsync();
    }

    [Fact]
    public async Task A_node_frozen_until_the_others_removed_it_stops_instead_of_serving_on_its_own()
    {
        await using var cluster = await StartClusterAsync();
        var frozen = cluster[2];
        string address = $"127.0.0.1:{cluster.ClusterPort(2)}";
        await frozen.SignalAsync("STOP");
        try
        {
            // The majority downs it (split-brain resolver, keep-majority) and goes on without it.
            await cluster[0].WaitForOutputAsync($"Node akka.tcp://broker@{address} left the cluster", TimeSpan.FromSeconds(60));
        }
        finally
        {
            await frozen.SignalAsync("CONT");
        }

        // Thawed, it learns it was removed: it stops its actor system and the process exits (3),
        // rather than serving clients outside the cluster.
        int code = await frozen.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(code == 3, $"exit code {code}\n{Tail(frozen.Output)}");
        await using var c = await cluster.ConnectAsync(1);
        await using var ch = await c.CreateChannelAsync();
        await ch.QueueDeclareAsync(UniqueName("after-freeze"), durable: true, exclusive: false, autoDelete: false);
    }

    [Fact]
    public async Task A_node_that_joins_under_load_takes_a_share_of_the_queues_and_nothing_is_lost()
    {
        await using var cluster = await StartClusterAsync();
        var queues = Enumerable.Range(0, 30).Select(i => UniqueName("join" + i)).ToList();
        await using (var c = await cluster.ConnectAsync(0))
        await using (var ch = await c.CreateChannelAsync())
        {
            foreach (var q in queues)
            {
                await ch.QueueDeclareAsync(q, durable: true, exclusive: false, autoDelete: false);
            }
        }

        await using var pubConn = await cluster.ConnectAsync(0);
        await using var conConn = await cluster.ConnectAsync(1);
        var consumers = new List<ResilientConsumer>();
        foreach (var q in queues)
        {
            consumers.Add(new ResilientConsumer(conConn, q, prefetch: 50));
        }

        try
        {
            await using var publisher = new ConfirmingPublisher(await pubConn.CreateChannelAsync(new CreateChannelOptions(true, true)), queues);
            await Wait.Until(() => publisher.Confirmed.Count > 1000, "load before the join", TimeSpan.FromSeconds(30));
            var fourth = await cluster.AddNodeAsync();
            // Queues move onto the new node a few at a time (rebalance-interval 10 s).
            await Wait.Until(() => queues.Any(q => cluster.OwnerOf(q) == 3), "a queue to move to the new node", TimeSpan.FromSeconds(60));
            int moved = queues.Count(q => cluster.OwnerOf(q) == 3);
            long before = publisher.Confirmed.Count;
            await Wait.Until(() => publisher.Confirmed.Count > before + 1000, "load after the move", TimeSpan.FromSeconds(30));
            await publisher.StopAsync();
            var confirmed = publisher.Confirmed.Keys.ToList();
            _log.WriteLine($"{moved} queue(s) moved to the new node; {confirmed.Count} confirmed, {publisher.Failed} nacked/failed");
            try
            {
                await Wait.Until(() =>
                {
                    var seen = consumers.SelectMany(c => c.Seen).ToHashSet();
                    return confirmed.All(seen.Contains);
                }, "every confirmed message to be consumed", TimeSpan.FromSeconds(60));
            }
            catch (TimeoutException)
            {
                var seen = consumers.SelectMany(c => c.Seen).ToHashSet();
                var lines = new List<string>();
                var all = publisher.Confirmed;
                await using var c = await cluster.ConnectAsync(2);
                foreach (var (q, i) in queues.Select((q, i) => (q, i)))
                {
                    var missing = all.Where(kv => kv.Value == q && !seen.Contains(kv.Key)).Select(kv => kv.Key).OrderBy(x => x).ToList();
                    if (missing.Count > 0)
                    {
                        await using var ch = await c.CreateChannelAsync();
                        var ok = await ch.QueueDeclarePassiveAsync(q);
                        lines.Add($"{q} (on node {cluster.OwnerOf(q) + 1}, {ok.MessageCount} ready, {ok.ConsumerCount} consumers, consumer resubscribed {consumers[i].Resubscriptions}x): " +
                                  $"{missing.Count} missing: {string.Join(",", missing.Take(10))}");
                    }
                }

                Assert.Fail(string.Join("\n", lines) + "\n--- new node ---\n" + fourth.Output[^Math.Min(6000, fourth.Output.Length)..]);
            }

            Assert.True(moved > 0);
        }
        finally
        {
            foreach (var c in consumers)
            {
                await c.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_whole_cluster_restart_recovers_every_durable_queue_once_with_its_messages()
    {
        await using var cluster = await StartClusterAsync();
        var queues = Enumerable.Range(0, 12).Select(i => UniqueName("restart" + i)).ToList();
        await using (var c = await cluster.ConnectAsync(0))
        await using (var ch = await c.CreateChannelAsync(new CreateChannelOptions(true, true)))
        {
            foreach (var q in queues)
            {
                await ch.QueueDeclareAsync(q, durable: true, exclusive: false, autoDelete: false);
                for (int i = 0; i < 5; i++)
                {
                    await ch.BasicPublishAsync("", q, true, new BasicProperties { DeliveryMode = DeliveryModes.Persistent }, Body(i.ToString()));
                }
            }
        }

        // SIGKILL every node (a power cut), then start them all again at once.
        for (int i = 0; i < 3; i++)
        {
            await cluster[i].KillAsync();
        }

        await Task.WhenAll(Enumerable.Range(0, 3).Select(cluster.RestartAsync));
        await cluster.WaitUntilEveryNodeServesAsync();
        foreach (var q in queues)
        {
            int recoveredOn = Enumerable.Range(0, 3).Count(i => cluster[i].Output.Contains($"Recovered durable queue '{q}' in vhost '/' with 5 message(s)"));
            Assert.True(recoveredOn == 1, $"queue {q} recovered on {recoveredOn} node(s):\n" + string.Join("\n",
                Enumerable.Range(0, 3).Select(i => $"--- node {i + 1} ---\n" + string.Join("\n",
                    cluster[i].Output.Split('\n').Where(l => l.Contains(q) || l.Contains("Recovered") || l.Contains("rebalanc", StringComparison.OrdinalIgnoreCase) || l.Contains("seed") || l.Contains("Joined"))))));
        }

        for (int i = 0; i < queues.Count; i++)
        {
            await using var c = await cluster.ConnectAsync(i % 3);
            await using var ch = await c.CreateChannelAsync();
            Assert.Equal(5u, (await ch.QueueDeclarePassiveAsync(queues[i])).MessageCount);
        }
    }
}
