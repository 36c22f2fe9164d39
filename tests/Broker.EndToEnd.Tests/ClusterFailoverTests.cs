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
    private async Task<ClusterNodes> StartClusterAsync(int nodes = 3, bool partitionable = false)
    {
        await _postgres.Server.PsqlAsync("DROP SCHEMA public CASCADE; CREATE SCHEMA public;");
        return await ClusterNodes.StartAsync(nodes, _postgres.Server, partitionable: partitionable);
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

        // A transaction that publishes to the queue while it fails over is not committed (406). On a
        // busy machine the queue may already serve again on a survivor by the time the publish gets
        // there (failover takes about half a second): then the commit is right, and the owner moved.
        var tx = await pubConn.CreateChannelAsync();
        await tx.TxSelectAsync();
        await tx.BasicPublishAsync("", q, false, new BasicProperties { DeliveryMode = DeliveryModes.Persistent }, Body("-1"));
        try
        {
            await tx.TxCommitAsync();
            _log.WriteLine("the transaction reached the queue after its failover and committed");
            Assert.NotEqual(owner, cluster.OwnerOf(q));
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException e)
        {
            Assert.Equal((ushort)406, e.ShutdownReason?.ReplyCode);
        }
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
        // The move cost the consumer one basic.cancel; its consume again waited for the queue.
        Assert.True(consumer.Cancellations <= 1 && consumer.ChannelErrors == 0,
            $"{consumer.Cancellations} cancellation(s), {consumer.ChannelErrors} channel error(s)");
        Assert.True(pubConn.IsOpen && conConn.IsOpen, "a client connection to a survivor was closed");
    }

    /// <summary>
    /// The durable rows of the queue features fail over with their queues: a delayed message whose
    /// hidden queue's node is killed is still routed when due, and a message's expiry deadline,
    /// counted from its publish, still dead-letters it on the queue's new node.
    /// </summary>
    [Fact]
    public async Task Delayed_and_expiring_messages_fail_over_with_their_queues()
    {
        await using var cluster = await StartClusterAsync();
        string prefix = UniqueName("fo-feat");
        string delayed = prefix + "-delayed", target = prefix + "-target", ttl = prefix + "-ttl", dlx = prefix + "-dlx", dlq = prefix + "-dlq";
        string hidden = "amq.delayed." + delayed;
        long publishedAt;
        await using (var c = await cluster.ConnectAsync(0))
        await using (var ch = await c.CreateChannelAsync(new CreateChannelOptions(true, true)))
        {
            await ch.ExchangeDeclareAsync(delayed, "x-delayed-message", durable: true, autoDelete: false,
                new Dictionary<string, object?> { ["x-delayed-type"] = "fanout" });
            await ch.QueueDeclareAsync(target, durable: true, exclusive: false, autoDelete: false);
            await ch.QueueBindAsync(target, delayed, "");
            await ch.ExchangeDeclareAsync(dlx, ExchangeType.Fanout, durable: true);
            await ch.QueueDeclareAsync(dlq, durable: true, exclusive: false, autoDelete: false);
            await ch.QueueBindAsync(dlq, dlx, "");
            await ch.QueueDeclareAsync(ttl, durable: true, exclusive: false, autoDelete: false,
                new Dictionary<string, object?> { ["x-message-ttl"] = 4000, ["x-dead-letter-exchange"] = dlx });
            publishedAt = Environment.TickCount64;
            await ch.BasicPublishAsync(delayed, "", true, DelayedMessageTests.Delayed(4000, persistent: true), Body("delayed"));
            await ch.BasicPublishAsync("", ttl, true, new BasicProperties { DeliveryMode = DeliveryModes.Persistent }, Body("expiring"));
        }

        int owner = cluster.OwnerOf(hidden);
        _log.WriteLine($"hidden delay queue on node {owner + 1}, the expiring message's queue on node {cluster.OwnerOf(ttl) + 1}; killing node {owner + 1}");
        await cluster[owner].KillAsync();
        int survivor = (owner + 1) % 3;
        await using var conn = await cluster.ConnectAsync(survivor);
        await using var check = await conn.CreateChannelAsync();
        await Wait.Until(async () =>
        {
            try
            {
                return (await check.QueueDeclarePassiveAsync(target)).MessageCount == 1 && (await check.QueueDeclarePassiveAsync(dlq)).MessageCount == 1;
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
                throw new InvalidOperationException("a queue was not found on the survivor");
            }
        }, "the delayed message in its target and the expired one in the dead-letter queue", TimeSpan.FromSeconds(30));
        Assert.True(Environment.TickCount64 - publishedAt >= 3900, "released or expired before its time");
        Assert.NotEqual(owner, cluster.OwnerOf(hidden));
        Assert.Equal("delayed", Text((await check.BasicGetAsync(target, true))!.Body));
        Assert.Equal("expiring", Text((await check.BasicGetAsync(dlq, true))!.Body));
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
    public async Task A_frozen_owner_confirms_and_delivers_nothing_once_its_queue_was_taken_over()
    {
        await using var cluster = await StartClusterAsync();
        await using var load = await QueueUnderLoad.StartAsync(cluster, UniqueName("freeze"));
        int owner = load.Owner;
        var frozenAt = load.Publisher.Elapsed;
        await cluster[owner].SignalAsync("STOP");
        int staleConfirms, staleDeliveries;
        try
        {
            await Wait.Until(() => load.Publisher.FirstConfirmAfter(frozenAt + TimeSpan.FromMilliseconds(100)) is not null,
                "the survivors to take the queue over", TimeSpan.FromSeconds(60));
            await Wait.Until(() => cluster.OwnerOf(load.Queue) != owner, "the queue to be recovered on a survivor", TimeSpan.FromSeconds(10));
            // Let its new owner serve a while before the old one runs again.
            await load.WaitForMoreConfirmsAsync(500);
        }
        finally
        {
            staleConfirms = load.StalePublisher.Confirmed.Count;
            staleDeliveries = load.StaleConsumer.Deliveries.Count;
            await cluster[owner].SignalAsync("CONT");
        }

        var resumed = load.Publisher.FirstConfirmAfter(frozenAt + TimeSpan.FromMilliseconds(100))!.Value - frozenAt;
        _log.WriteLine($"froze node {owner + 1} (owner of {load.Queue}); confirms resumed {resumed.TotalSeconds:F1} s later with the queue on node {cluster.OwnerOf(load.Queue) + 1}");
        AssertSurvivorsClientsUndisturbed(load);
        // Thawed, it learns it was fenced (or downed) and exits, having handed out nothing more.
        int code = await cluster[owner].WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(code == 3, $"exit code {code}\n{Tail(cluster[owner].Output)}");
        Assert.Equal(staleConfirms, load.StalePublisher.Confirmed.Count);
        // Deliveries handed to the socket layer before the freeze (Akka.IO's pending writes, the
        // client's dispatch queue) may still be counted after it: at most the consumer's prefetch
        // (200), never anything the node decided to deliver once its lease had lapsed.
        int lateDeliveries = load.StaleConsumer.Deliveries.Count - staleDeliveries;
        Assert.True(lateDeliveries <= 200, $"{lateDeliveries} deliveries counted after the frozen node resumed");
        Assert.Contains("Stopping this node", cluster[owner].Output.Replace("This node was frozen for", "Stopping this node"));

        await load.StopPublishingAsync();
        var confirmed = load.Confirmed;
        await AssertAllConsumedAsync(confirmed, () => load.Seen, cluster, load.ConsumerNode);
        _log.WriteLine($"{confirmed.Count} confirmed ({load.StalePublisher.Confirmed.Count} through the frozen node), all consumed");
    }

    [Fact]
    public async Task An_owner_cut_off_from_the_other_nodes_but_not_from_the_database_is_fenced_and_loses_nothing_confirmed()
    {
        await using var cluster = await StartClusterAsync(partitionable: true);
        // The cut-off node keeps its clients (and its database): it goes on serving them until it learns.
        await using var load = await QueueUnderLoad.StartAsync(cluster, UniqueName("partition"));
        int owner = load.Owner;
        var cutAt = load.Publisher.Elapsed;
        cluster.Proxy!.Isolate(owner);
        // Both sides run their split-brain resolver: the majority downs it, it downs itself; the
        // majority's take-over fences it in the database either way.
        int code = await cluster[owner].WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(code == 3, $"exit code {code}\n{Tail(cluster[owner].Output)}");
        await Wait.Until(() => load.Publisher.FirstConfirmAfter(cutAt + TimeSpan.FromMilliseconds(100)) is not null,
            "the majority to take the queue over", TimeSpan.FromSeconds(60));
        var resumed = load.Publisher.FirstConfirmAfter(cutAt + TimeSpan.FromMilliseconds(100))!.Value - cutAt;
        _log.WriteLine($"cut node {owner + 1} (owner of {load.Queue}) off; confirms resumed {resumed.TotalSeconds:F1} s later on node {cluster.OwnerOf(load.Queue) + 1}");
        Assert.NotEqual(owner, cluster.OwnerOf(load.Queue));
        AssertSurvivorsClientsUndisturbed(load);
        await load.WaitForMoreConfirmsAsync(500);

        await load.StopPublishingAsync();
        var confirmed = load.Confirmed;
        await AssertAllConsumedAsync(confirmed, () => load.Seen, cluster, load.ConsumerNode);
        _log.WriteLine($"{confirmed.Count} confirmed ({load.StalePublisher.Confirmed.Count} through the cut-off node), all consumed");
    }

    /// <summary>The move cost the survivors' consumer at most one basic.cancel, and no client connection to a survivor closed.</summary>
    private static void AssertSurvivorsClientsUndisturbed(QueueUnderLoad load) =>
        Assert.True(load.Consumer.Cancellations <= 1 && load.Consumer.ChannelErrors == 0 && load.PublisherConnection.IsOpen &&
                    load.ConsumerConnection.IsOpen,
            $"survivors' clients: {load.Consumer.Cancellations} cancellation(s), {load.Consumer.ChannelErrors} channel error(s)");

    /// <summary>What a node logs when it becomes the oldest member, where the shard coordinators run (MembershipLogActor).</summary>
    private const string OldestMemberLine = "cluster: this node is the oldest member: the shard coordinators run here";

    [Fact]
    public async Task Sigkill_of_the_oldest_node_moves_the_coordinator_and_its_queues_without_losing_a_confirmed_message()
    {
        await using var cluster = await StartClusterAsync();
        // The first seed forms the cluster: it is the oldest member and hosts the shard coordinators.
        Assert.Contains(OldestMemberLine, cluster[0].Output);
        var queues = Enumerable.Range(0, 8).Select(i => UniqueName("oldest" + i)).ToList();
        await using (var c = await cluster.ConnectAsync(1))
        await using (var ch = await c.CreateChannelAsync())
        {
            foreach (var name in queues)
            {
                await ch.QueueDeclareAsync(name, durable: true, exclusive: false, autoDelete: false);
            }
        }

        string q = queues.FirstOrDefault(name => cluster.OwnerOf(name) == 0)
                   ?? throw new InvalidOperationException("no queue landed on the oldest node: " + string.Join(", ", queues.Select(name => cluster.OwnerOf(name))));
        await using var pubConn = await cluster.ConnectAsync(1);
        await using var conConn = await cluster.ConnectAsync(2);
        await using var consumer = new ResilientConsumer(conConn, q);
        await using var publisher = new ConfirmingPublisher(await pubConn.CreateChannelAsync(new CreateChannelOptions(true, true)), new[] { q });
        await Wait.Until(() => publisher.Confirmed.Count > 1000, "confirmed load before the kill", TimeSpan.FromSeconds(30));

        var killedAt = publisher.Elapsed;
        await cluster[0].KillAsync();
        await Wait.Until(() => publisher.FirstConfirmAfter(killedAt + TimeSpan.FromMilliseconds(100)) is not null,
            "confirms to resume after the oldest node was killed", TimeSpan.FromSeconds(60));
        var resumed = publisher.FirstConfirmAfter(killedAt + TimeSpan.FromMilliseconds(100))!.Value - killedAt;
        _log.WriteLine($"confirms resumed {resumed.TotalSeconds:F1} s after the oldest node was killed; queue now on node {cluster.OwnerOf(q) + 1}");
        Assert.Contains(new[] { 1, 2 }, i => cluster[i].Output.Contains(OldestMemberLine));
        int served = publisher.Confirmed.Count;
        await Wait.Until(() => publisher.Confirmed.Count > served + 500, "load on the queue's new node", TimeSpan.FromSeconds(30));
        await publisher.StopAsync();
        await AssertAllConsumedAsync(publisher.Confirmed.Keys.ToList(), () => consumer.Seen, cluster, 2);
    }

    [Fact]
    public async Task After_two_nodes_die_one_after_the_other_the_last_serves_every_queue_and_loses_nothing_confirmed()
    {
        await using var cluster = await StartClusterAsync();
        var queues = Enumerable.Range(0, 6).Select(i => UniqueName("last" + i)).ToList();
        await using (var c = await cluster.ConnectAsync(2))
        await using (var ch = await c.CreateChannelAsync())
        {
            foreach (var name in queues)
            {
                await ch.QueueDeclareAsync(name, durable: true, exclusive: false, autoDelete: false);
            }
        }

        _log.WriteLine("owners: " + string.Join(", ", queues.Select(name => cluster.OwnerOf(name) + 1)));
        await using var pubConn = await cluster.ConnectAsync(2);
        await using var conConn = await cluster.ConnectAsync(2);
        var consumers = queues.Select(name => new ResilientConsumer(conConn, name)).ToList();
        await using var publisher = new ConfirmingPublisher(await pubConn.CreateChannelAsync(new CreateChannelOptions(true, true)), queues);
        try
        {
            foreach (int victim in new[] { 0, 1 })
            {
                var before = publisher.Confirmed.Values.GroupBy(v => v).ToDictionary(g => g.Key, g => g.Count());
                await Wait.Until(() => publisher.Confirmed.Count > before.Values.Sum() + 500, "confirmed load", TimeSpan.FromSeconds(30));
                before = publisher.Confirmed.Values.GroupBy(v => v).ToDictionary(g => g.Key, g => g.Count());
                await cluster[victim].KillAsync();
                // Its peers' locks are free: the database shows these processes are gone, so the
                // last node is not a minority that must stop; it takes every queue over.
                await Wait.Until(() =>
                {
                    var now = publisher.Confirmed.Values.GroupBy(v => v).ToDictionary(g => g.Key, g => g.Count());
                    return queues.All(name => now.GetValueOrDefault(name) > before.GetValueOrDefault(name) + 20);
                }, $"every queue to take confirmed publishes again after node {victim + 1} died", TimeSpan.FromSeconds(60));
                _log.WriteLine($"node {victim + 1} killed; every queue confirms again; owners: " +
                               string.Join(", ", queues.Select(name => cluster.OwnerOf(name) + 1)));
            }

            Assert.Contains("Downing node node2", cluster[2].Output);
            Assert.All(queues, name => Assert.Equal(2, cluster.OwnerOf(name)));
            await publisher.StopAsync();
            var confirmed = publisher.Confirmed.Keys.ToList();
            await Wait.Until(() =>
            {
                var seen = consumers.SelectMany(c => c.Seen).ToHashSet();
                return confirmed.All(seen.Contains);
            }, "every confirmed message to be consumed", TimeSpan.FromSeconds(60));
        }
        finally
        {
            foreach (var c in consumers)
            {
                await c.DisposeAsync();
            }
        }
    }

    private static async Task AssertAllConsumedAsync(List<long> confirmed, Func<HashSet<long>> seen, ClusterNodes cluster, int consumerNode)
    {
        try
        {
            await Wait.Until(() => confirmed.All(seen().Contains), "every confirmed message to be consumed", TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"confirmed but never consumed: {Missing(confirmed, seen())}\n--- consumer node ---\n{Tail(cluster[consumerNode].Output)}");
        }
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
            string user = UniqueName("joiner");
            await NodeCli.OkAsync(cluster[0].Uri, "users", "add", user, "pw");
            await NodeCli.OkAsync(cluster[0].Uri, "permissions", "set", user, ".*", ".*", ".*");
            var fourth = await cluster.AddNodeAsync();
            // The new node got the users and permissions with the rest of the topology.
            var asUser = ClusterNodes.Factory(fourth);
            (asUser.UserName, asUser.Password) = (user, "pw");
            await using (await asUser.CreateConnectionAsync())
            {
            }

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

        string user = UniqueName("survivor");
        await NodeCli.OkAsync(cluster[1].Uri, "users", "add", user, "pw");
        await NodeCli.OkAsync(cluster[1].Uri, "permissions", "set", user, ".*", ".*", ".*");

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

        // The access store came back from the journal too: the user added before the power cut logs in anywhere.
        for (int i = 0; i < 3; i++)
        {
            var asUser = ClusterNodes.Factory(cluster[i]);
            (asUser.UserName, asUser.Password) = (user, "pw");
            await using (await asUser.CreateConnectionAsync())
            {
            }
        }
    }
}
