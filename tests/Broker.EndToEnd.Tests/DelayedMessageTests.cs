using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// The x-delayed-message exchange type (the interface of RabbitMQ's community plugin): messages
/// with an x-delay header are routed once the delay has passed, as the exchange's x-delayed-type
/// routes; durable ones survive a restart.
/// </summary>
[Collection("broker")]
public sealed class DelayedMessageTests
{
    private readonly BrokerFixture _broker;

    public DelayedMessageTests(BrokerFixture broker) => _broker = broker;

    internal static Dictionary<string, object?> DelayedDirect => new() { ["x-delayed-type"] = "direct" };

    internal static BasicProperties Delayed(int ms, bool persistent = false) => new()
    {
        Headers = new Dictionary<string, object?> { ["x-delay"] = ms },
        DeliveryMode = persistent ? DeliveryModes.Persistent : DeliveryModes.Transient,
    };

    [Fact]
    public async Task The_exchanges_own_delay_queue_is_invisible_to_clients()
    {
        // Releasing a delayed message routes it through its exchange: a client that could put a
        // message in that queue would publish to the exchange without the permission to.
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync(new CreateChannelOptions(true, true));
        string x = UniqueName("delayed-hidden"), q = UniqueName("delayed-hidden-q"), hidden = "amq.delayed." + x;
        await ch.ExchangeDeclareAsync(x, "x-delayed-message", false, false, DelayedDirect);
        await ch.QueueDeclareAsync(q, false, false, false);
        await ch.QueueBindAsync(q, x, "k");

        // A publish to it through the default exchange is unroutable, as to a queue that does not exist.
        var returned = await Assert.ThrowsAsync<PublishReturnException>(() => ch.BasicPublishAsync("", hidden, true, Delayed(10), Body("smuggled")).AsTask());
        Assert.Equal(312, returned.ReplyCode);

        foreach (Func<IChannel, Task> operation in new Func<IChannel, Task>[]
        {
            c => c.QueueDeclarePassiveAsync(hidden),
            c => c.BasicGetAsync(hidden, true),
            c => c.BasicConsumeAsync(hidden, true, new AsyncEventingBasicConsumer(c)),
            c => c.QueuePurgeAsync(hidden),
            c => c.QueueBindAsync(hidden, "amq.direct", "k"),
            c => c.QueueDeleteAsync(hidden),
        })
        {
            await using var other = await conn.CreateChannelAsync();
            var (code, text) = await ChannelError(other, () => operation(other));
            Assert.Equal((404, $"NOT_FOUND - no queue '{hidden}' in vhost '/'"), (code, text));
        }

        // The exchange still works, and the only message it released is its own: had the smuggled
        // one (due earlier) reached the delay queue, it would have been released first.
        await ch.BasicPublishAsync(x, "k", true, Delayed(10), Body("delayed"));
        await Wait.Until(async () => (await ch.QueueDeclarePassiveAsync(q)).MessageCount >= 1, "the delayed message");
        Assert.Equal("delayed", Text((await ch.BasicGetAsync(q, autoAck: true))!.Body));
        Assert.Equal(0u, (await ch.QueueDeclarePassiveAsync(q)).MessageCount);
    }

    [Fact]
    public async Task A_delayed_message_is_routed_once_its_delay_has_passed()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync(new CreateChannelOptions(true, true));
        string x = UniqueName("delayed"), q = UniqueName("delayed-q");
        await ch.ExchangeDeclareAsync(x, "x-delayed-message", false, false, DelayedDirect);
        await ch.QueueDeclareAsync(q, false, false, false);
        await ch.QueueBindAsync(q, x, "k");
        var (_, deliveries) = await ConsumeAsync(ch, q, autoAck: true);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await ch.BasicPublishAsync(x, "k", true, Delayed(600), Body("later"));
        await ch.BasicPublishAsync(x, "k", true, Delayed(200), Body("sooner"));
        await ch.BasicPublishAsync(x, "k", true, new BasicProperties(), Body("now"));
        await ch.BasicPublishAsync(x, "other-key", false, Delayed(100), Body("unroutable"));

        Assert.Equal("now", Text((await deliveries.NextAsync()).Body));
        Assert.Equal("sooner", Text((await deliveries.NextAsync()).Body));
        Assert.True(clock.ElapsedMilliseconds >= 200, $"delivered after {clock.ElapsedMilliseconds} ms");
        var later = await deliveries.NextAsync();
        Assert.Equal("later", Text(later.Body));
        Assert.True(clock.ElapsedMilliseconds >= 600, $"delivered after {clock.ElapsedMilliseconds} ms");
        Assert.Equal((x, "k"), (later.Exchange, later.RoutingKey));
        Assert.True(await deliveries.NothingWithin(TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task A_client_cannot_turn_its_queue_into_a_delay_queue()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string q = UniqueName("not-delayed");
        await ch.QueueDeclareAsync(q, false, false, false, new Dictionary<string, object?> { ["x-delayed-exchange"] = "" });
        await ch.BasicPublishAsync("", q, Body("m"));
        Assert.Equal(1u, (await ch.QueueDeclarePassiveAsync(q)).MessageCount);
        Assert.Equal("m", Text((await ch.BasicGetAsync(q, true))!.Body));
    }

    [Fact]
    public async Task A_delayed_message_exchange_needs_a_routing_type()
    {
        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        var (code, text) = await ChannelError(ch, () => ch.ExchangeDeclareAsync(UniqueName("delayed-bad"), "x-delayed-message"));
        Assert.Equal((406, "PRECONDITION_FAILED - Invalid argument, 'x-delayed-type' must be an existing exchange type"), (code, text));
    }
}
