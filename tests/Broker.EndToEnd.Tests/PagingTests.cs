using System.Text;
using RabbitMQ.Client;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// Queues over their memory budget page messages out, whole, to their page file
/// (BROKER_QUEUE_MEMORY_BUDGET, here 64 KiB, so a few thousand 1 KB messages are mostly paged) and
/// read them back in batches as the head is taken (delivered, got or dead-lettered): order, bodies,
/// properties and redelivered flags are as without paging, and a restart recovers persistent ones
/// from the journal.
/// </summary>
public sealed class PagingTests : IAsyncLifetime
{
    private const int Count = 3000;
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "broker-paging-" + Guid.NewGuid().ToString("N"));
    private readonly Dictionary<string, string> _env = new() { ["BROKER_QUEUE_MEMORY_BUDGET"] = "64KiB" };
    private BrokerFixture _node = null!;

    public async Task InitializeAsync() => _node = await BrokerFixture.StartAsync(_env, _dataDir);

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        Directory.Delete(_dataDir, recursive: true);
    }

    private string PagesDir => Path.Combine(_dataDir, "pages");

    private long PagedBytes => Directory.Exists(PagesDir)
        ? Directory.GetFiles(PagesDir, "*.page", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length)
        : 0;

    /// <summary>1000 bytes that say which message they are, so a body read back from the wrong place shows.</summary>
    private static byte[] BodyOf(int i) => Encoding.ASCII.GetBytes($"message {i:D6} ".PadRight(1000, (char)('a' + i % 26)));

    private static async Task PublishAsync(IChannel ch, string queue, bool persistent, int from = 0, int count = Count)
    {
        for (int i = from; i < from + count; i++)
        {
            var props = new BasicProperties { DeliveryMode = persistent ? DeliveryModes.Persistent : DeliveryModes.Transient, MessageId = "id-" + i };
            await ch.BasicPublishAsync("", queue, true, props, BodyOf(i));
        }
    }

    [Fact]
    public async Task A_deep_transient_queue_pages_its_bodies_out_and_delivers_them_back_in_order()
    {
        await using var conn = await _node.ConnectAsync();
        var ch = await conn.CreateChannelAsync(new CreateChannelOptions(true, true));
        await ch.QueueDeclareAsync("paged-transient", durable: false, exclusive: false, autoDelete: false);
        await PublishAsync(ch, "paged-transient", persistent: false);
        Assert.True(PagedBytes > Count / 2 * 1000, $"only {PagedBytes} bytes paged out");

        // basic.get takes the head (in memory), then consumers take the rest, read back from the page file.
        for (int i = 0; i < 10; i++)
        {
            var got = await ch.BasicGetAsync("paged-transient", autoAck: true);
            Assert.Equal(BodyOf(i), got!.Body.ToArray());
        }

        await ch.BasicQosAsync(0, 200, false);
        var (_, deliveries) = await ConsumeAsync(ch, "paged-transient");
        for (int i = 10; i < Count; i++)
        {
            var d = await deliveries.NextAsync();
            Assert.Equal(BodyOf(i), d.Body.ToArray());
            Assert.Equal("id-" + i, d.BasicProperties.MessageId);
            Assert.False(d.Redelivered);
            await ch.BasicAckAsync(d.DeliveryTag, false);
        }

        // Every body read back: the queue's page files are gone.
        Assert.Equal(0u, await ch.MessageCountAsync("paged-transient"));
        Assert.Equal(0, PagedBytes);
    }

    [Fact]
    public async Task Paged_persistent_messages_survive_a_restart_and_requeued_ones_come_back_whole()
    {
        await using (var conn = await _node.ConnectAsync())
        {
            var ch = await conn.CreateChannelAsync(new CreateChannelOptions(true, true));
            await ch.QueueDeclareAsync("paged-durable", durable: true, exclusive: false, autoDelete: false);
            await PublishAsync(ch, "paged-durable", persistent: true);
            Assert.True(PagedBytes > Count / 2 * 1000, $"only {PagedBytes} bytes paged out");
        }

        await _node.DisposeAsync();
        _node = await BrokerFixture.StartAsync(_env, _dataDir);

        await using var conn2 = await _node.ConnectAsync();
        var ch2 = await conn2.CreateChannelAsync();
        Assert.Equal((uint)Count, await ch2.MessageCountAsync("paged-durable"));
        // Recovered beyond the budget: the backlog stays in its journal rows and is read from there
        // (RecoveredTail), so nothing is written to a page file again.
        Assert.Equal(0, PagedBytes);
        await ch2.BasicQosAsync(0, 50, false);
        var (_, deliveries) = await ConsumeAsync(ch2, "paged-durable");
        var requeued = new List<int>();
        for (int i = 0; i < Count; i++)
        {
            var d = await deliveries.NextAsync();
            int n = int.Parse(Encoding.ASCII.GetString(d.Body.Span[8..14]));
            Assert.Equal(BodyOf(n), d.Body.ToArray());
            if (!d.Redelivered && n % 500 == 7)
            {
                // Back to the queue: it comes again, whole, flagged redelivered.
                await ch2.BasicNackAsync(d.DeliveryTag, false, requeue: true);
                requeued.Add(n);
                i--;
                continue;
            }

            Assert.Equal(requeued.Contains(n), d.Redelivered);
            await ch2.BasicAckAsync(d.DeliveryTag, false);
        }

        Assert.Equal(6, requeued.Count);
    }

    [Fact]
    public async Task Paged_messages_that_expire_are_dead_lettered_with_their_bodies_and_a_purge_drops_the_rest()
    {
        await using var conn = await _node.ConnectAsync();
        var ch = await conn.CreateChannelAsync(new CreateChannelOptions(true, true));
        await ch.QueueDeclareAsync("paged-dlq", durable: false, exclusive: false, autoDelete: false);
        await ch.QueueDeclareAsync("paged-ttl", durable: false, exclusive: false, autoDelete: false, new Dictionary<string, object?>
        {
            ["x-message-ttl"] = 200,
            ["x-dead-letter-exchange"] = "",
            ["x-dead-letter-routing-key"] = "paged-dlq",
        });
        await ch.QueueDeclareAsync("paged-purge", durable: false, exclusive: false, autoDelete: false);
        await PublishAsync(ch, "paged-ttl", persistent: false, count: 1000);
        await PublishAsync(ch, "paged-purge", persistent: false, count: 1000);

        await Wait.Until(async () => await ch.MessageCountAsync("paged-dlq") == 1000, "every expired message in the dead-letter queue");
        for (int i = 0; i < 500; i++)
        {
            var dead = await ch.BasicGetAsync("paged-dlq", autoAck: true);
            Assert.Equal(BodyOf(i), dead!.Body.ToArray());
            Assert.True(dead.BasicProperties.Headers!.ContainsKey("x-death"));
        }

        // The other 500 dead-letters wait in the dead-letter queue (mostly paged out, as it is over budget too); a
        // purge drops its queue's pages, a delete its queue's.
        Assert.True(PagedBytes > 0);
        Assert.Equal(1000u, await ch.QueuePurgeAsync("paged-purge"));
        await ch.QueueDeleteAsync("paged-dlq");
        Assert.Equal(0, PagedBytes);
    }
}
