using RabbitMQ.Client;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// A durable queue under confirmed load through every node of a three-node cluster: a publisher
/// and a consumer on the two nodes that do not own it, and a "stale" publisher and consumer on
/// its owner that go on talking to that node whatever happens to it (frozen, cut off).
/// </summary>
internal sealed class QueueUnderLoad : IAsyncDisposable
{
    private IConnection _stalePublisherConnection = null!;
    private IConnection _staleConsumerConnection = null!;

    private QueueUnderLoad(string queue, int owner)
    {
        Queue = queue;
        Owner = owner;
    }

    public string Queue { get; }
    public int Owner { get; }
    public int PublisherNode => (Owner + 1) % 3;
    public int ConsumerNode => (Owner + 2) % 3;
    public IConnection PublisherConnection { get; private set; } = null!;
    public IConnection ConsumerConnection { get; private set; } = null!;
    public ConfirmingPublisher Publisher { get; private set; } = null!;
    public ResilientConsumer Consumer { get; private set; } = null!;
    public ConfirmingPublisher StalePublisher { get; private set; } = null!;
    public ResilientConsumer StaleConsumer { get; private set; } = null!;

    /// <summary>Every confirmed message of both publishers (the stale one numbers its own from 10^9).</summary>
    public List<long> Confirmed => Publisher.Confirmed.Keys.Concat(StalePublisher.Confirmed.Keys).ToList();

    /// <summary>What either consumer saw: they shared the queue until its node went.</summary>
    public HashSet<long> Seen => Consumer.Seen.Concat(StaleConsumer.Seen).ToHashSet();

    public static async Task<QueueUnderLoad> StartAsync(ClusterNodes cluster, string queue)
    {
        await using (var c = await cluster.ConnectAsync(0))
        await using (var ch = await c.CreateChannelAsync())
        {
            await ch.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        }

        var load = new QueueUnderLoad(queue, cluster.OwnerOf(queue));
        load.PublisherConnection = await cluster.ConnectAsync(load.PublisherNode);
        load.ConsumerConnection = await cluster.ConnectAsync(load.ConsumerNode);
        load.Consumer = new ResilientConsumer(load.ConsumerConnection, queue);
        load.Publisher = new ConfirmingPublisher(await load.PublisherConnection.CreateChannelAsync(new CreateChannelOptions(true, true)),
            new[] { queue });
        load._stalePublisherConnection = await cluster.ConnectAsync(load.Owner);
        load._staleConsumerConnection = await cluster.ConnectAsync(load.Owner);
        load.StalePublisher = new ConfirmingPublisher(
            await load._stalePublisherConnection.CreateChannelAsync(new CreateChannelOptions(true, true)), new[] { queue },
            firstSeq: 1_000_000_000);
        load.StaleConsumer = new ResilientConsumer(load._staleConsumerConnection, queue);
        await Wait.Until(() => load.Publisher.Confirmed.Count > 1000 && load.StalePublisher.Confirmed.Count > 200 &&
                               load.StaleConsumer.Deliveries.Count > 100,
            "confirmed load through every node", TimeSpan.FromSeconds(30));
        return load;
    }

    /// <summary>Waits until the survivors' publisher has had this many more confirms (the queue serves on its new node).</summary>
    public async Task WaitForMoreConfirmsAsync(int more)
    {
        int before = Publisher.Confirmed.Count;
        await Wait.Until(() => Publisher.Confirmed.Count > before + more, "load on the queue's new node", TimeSpan.FromSeconds(30));
    }

    /// <summary>Stops both publishers (the stale clients' node is gone by now).</summary>
    public async Task StopPublishingAsync()
    {
        await StalePublisher.DisposeAsync();
        await StaleConsumer.DisposeAsync();
        await _stalePublisherConnection.DisposeAsync();
        await _staleConsumerConnection.DisposeAsync();
        await Publisher.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Publisher.DisposeAsync();
        await Consumer.DisposeAsync();
        await PublisherConnection.DisposeAsync();
        await ConsumerConnection.DisposeAsync();
    }
}
