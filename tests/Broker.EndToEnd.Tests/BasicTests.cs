using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

[Collection("broker")]
public sealed class BasicTests
{
    private readonly BrokerFixture _broker;

    public BasicTests(BrokerFixture broker) => _broker = broker;

    private async Task<(IConnection, IChannel, string)> SetupAsync()
    {
        var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        var q = await ch.QueueDeclareAsync(UniqueName("basic"), exclusive: false, autoDelete: false);
        return (conn, ch, q.QueueName);
    }

    [Fact]
    public void The_suite_runs_every_message_through_its_serializer()
    {
        // serialize-messages: a message without a binary serializer fails here, as it would between nodes.
        Assert.True(_broker.Server.Actors.Settings.SerializeAllMessages);
    }

    [Fact]
    public async Task PublishedMessagesArriveInOrderWithPropertiesAndBody()
    {
        var (conn, ch, q) = await SetupAsync();
        await using var _ = conn;
        var props = new BasicProperties
        {
            ContentType = "text/plain",
            ContentEncoding = "utf-8",
            Headers = new Dictionary<string, object?> { ["h1"] = 42, ["h2"] = Body("v").ToArray(), ["h3"] = true },
            DeliveryMode = DeliveryModes.Persistent,
            Priority = 3,
            CorrelationId = "corr",
            ReplyTo = "reply",
            Expiration = "60000",
            MessageId = "mid",
            Timestamp = new AmqpTimestamp(1_700_000_000),
            Type = "type",
            UserId = "guest",
            AppId = "app",
            ClusterId = "cluster",
        };
        for (int i = 0; i < 20; i++)
        {
            await ch.BasicPublishAsync("", q, false, props, Body("m" + i));
        }

        var (_, deliveries) = await ConsumeAsync(ch, q, autoAck: true);
        for (int i = 0; i < 20; i++)
        {
            var d = await deliveries.NextAsync();
            Assert.Equal("m" + i, Text(d.Body));
            Assert.False(d.Redelivered);
            Assert.Equal("", d.Exchange);
            Assert.Equal(q, d.RoutingKey);
            var p = d.BasicProperties;
            Assert.Equal("text/plain", p.ContentType);
            Assert.Equal("utf-8", p.ContentEncoding);
            Assert.Equal(42, p.Headers!["h1"]);
            Assert.Equal(true, p.Headers["h3"]);
            Assert.Equal(DeliveryModes.Persistent, p.DeliveryMode);
            Assert.Equal(3, p.Priority);
            Assert.Equal("corr", p.CorrelationId);
            Assert.Equal("reply", p.ReplyTo);
            Assert.Equal("60000", p.Expiration);
            Assert.Equal("mid", p.MessageId);
            Assert.Equal(1_700_000_000, p.Timestamp.UnixTime);
            Assert.Equal("type", p.Type);
            Assert.Equal("guest", p.UserId);
            Assert.Equal("app", p.AppId);
            Assert.Equal("cluster", p.ClusterId);
        }
    }

    [Fact]
    public async Task EmptyAndLargeBodies()
    {
        var (conn, ch, q) = await SetupAsync();
        await using var _ = conn;
        var large = new byte[1_000_000];
        new Random(1).NextBytes(large);
        await ch.BasicPublishAsync("", q, ReadOnlyMemory<byte>.Empty);
        await ch.BasicPublishAsync("", q, large);
        var (_, deliveries) = await ConsumeAsync(ch, q, autoAck: true);
        Assert.Equal(0, (await deliveries.NextAsync()).Body.Length);
        Assert.Equal(large, (await deliveries.NextAsync()).Body.ToArray());
    }

    [Fact]
    public async Task GetReturnsMessagesThenGetEmpty()
    {
        var (conn, ch, q) = await SetupAsync();
        await using var _ = conn;
        await ch.BasicPublishAsync("", q, Body("a"));
        await ch.BasicPublishAsync("", q, Body("b"));
        await Wait.Until(() => ch.MessageCountAsync(q).GetAwaiter().GetResult() == 2, "two messages queued");
        var first = await ch.BasicGetAsync(q, autoAck: false);
        Assert.NotNull(first);
        Assert.Equal("a", Text(first!.Body));
        Assert.Equal(1u, first.MessageCount);
        await ch.BasicAckAsync(first.DeliveryTag, false);
        var second = await ch.BasicGetAsync(q, autoAck: true);
        Assert.Equal("b", Text(second!.Body));
        Assert.Equal(0u, second.MessageCount);
        Assert.Null(await ch.BasicGetAsync(q, autoAck: true));
    }

    [Fact]
    public async Task RejectWithRequeueRedeliversWithTheFlag()
    {
        var (conn, ch, q) = await SetupAsync();
        await using var _ = conn;
        await ch.BasicPublishAsync("", q, Body("x"));
        var (_, deliveries) = await ConsumeAsync(ch, q);
        var d1 = await deliveries.NextAsync();
        Assert.False(d1.Redelivered);
        await ch.BasicRejectAsync(d1.DeliveryTag, requeue: true);
        var d2 = await deliveries.NextAsync();
        Assert.True(d2.Redelivered);
        Assert.Equal("x", Text(d2.Body));
        await ch.BasicAckAsync(d2.DeliveryTag, false);
        Assert.Equal(0u, await ch.MessageCountAsync(q));
    }

    [Fact]
    public async Task NackMultipleWithoutRequeueDropsTheMessages()
    {
        var (conn, ch, q) = await SetupAsync();
        await using var _ = conn;
        for (int i = 0; i < 5; i++)
        {
            await ch.BasicPublishAsync("", q, Body("n" + i));
        }

        var (_, deliveries) = await ConsumeAsync(ch, q);
        BasicDeliverEventArgs last = null!;
        for (int i = 0; i < 5; i++)
        {
            last = await deliveries.NextAsync();
        }

        await ch.BasicNackAsync(last.DeliveryTag, multiple: true, requeue: false);
        Assert.True(await deliveries.NothingWithin(TimeSpan.FromMilliseconds(300)));
        var ok = await ch.QueueDeclarePassiveAsync(q);
        Assert.Equal(0u, ok.MessageCount);
    }

    [Fact]
    public async Task AckMultipleSettlesEverythingUpToTheTag()
    {
        var (conn, ch, q) = await SetupAsync();
        await using var _ = conn;
        for (int i = 0; i < 10; i++)
        {
            await ch.BasicPublishAsync("", q, Body("a" + i));
        }

        var (tag, deliveries) = await ConsumeAsync(ch, q);
        var tags = new List<ulong>();
        for (int i = 0; i < 10; i++)
        {
            tags.Add((await deliveries.NextAsync()).DeliveryTag);
        }

        await ch.BasicAckAsync(tags[6], multiple: true);
        await ch.BasicCancelAsync(tag);
        await ch.CloseAsync();
        // Three were unacked: they return to the queue when the channel closes.
        await using var ch2 = await conn.CreateChannelAsync();
        await Wait.Until(() => ch2.MessageCountAsync(q).GetAwaiter().GetResult() == 3, "three messages back in the queue");
    }

    [Fact]
    public async Task UnknownDeliveryTagIs406()
    {
        var (conn, ch, q) = await SetupAsync();
        await using var _ = conn;
        // basic.ack is asynchronous: the channel error shows up on the next synchronous call.
        await ch.BasicAckAsync(999, false);
        ushort code = await ChannelErrorCode(ch, () => ch.QueueDeclarePassiveAsync(q));
        Assert.Equal(406, code);
    }

    [Fact]
    public async Task DoubleAckIs406()
    {
        var (conn, ch, q) = await SetupAsync();
        await using var _ = conn;
        await ch.BasicPublishAsync("", q, Body("d"));
        var (_, deliveries) = await ConsumeAsync(ch, q);
        var d = await deliveries.NextAsync();
        await ch.BasicAckAsync(d.DeliveryTag, false);
        await ch.BasicAckAsync(d.DeliveryTag, false);
        ushort code = await ChannelErrorCode(ch, () => ch.QueueDeclarePassiveAsync(q));
        Assert.Equal(406, code);
    }

    [Fact]
    public async Task UnackedMessagesReturnRedeliveredWhenTheConnectionCloses()
    {
        var (conn, ch, q) = await SetupAsync();
        for (int i = 0; i < 3; i++)
        {
            await ch.BasicPublishAsync("", q, Body("u" + i));
        }

        var (_, deliveries) = await ConsumeAsync(ch, q);
        for (int i = 0; i < 3; i++)
        {
            await deliveries.NextAsync();
        }

        await conn.CloseAsync();
        await conn.DisposeAsync();

        await using var conn2 = await _broker.ConnectAsync();
        await using var ch2 = await conn2.CreateChannelAsync();
        var (_, again) = await ConsumeAsync(ch2, q, autoAck: true);
        for (int i = 0; i < 3; i++)
        {
            var d = await again.NextAsync();
            Assert.Equal("u" + i, Text(d.Body));
            Assert.True(d.Redelivered);
        }
    }

    [Fact]
    public async Task PerConsumerPrefetchLimitsUnackedDeliveries()
    {
        var (conn, ch, q) = await SetupAsync();
        await using var _ = conn;
        await ch.BasicQosAsync(0, 3, global: false);
        for (int i = 0; i < 10; i++)
        {
            await ch.BasicPublishAsync("", q, Body("p" + i));
        }

        var (_, deliveries) = await ConsumeAsync(ch, q);
        var got = new List<BasicDeliverEventArgs>();
        for (int i = 0; i < 3; i++)
        {
            got.Add(await deliveries.NextAsync());
        }

        Assert.True(await deliveries.NothingWithin(TimeSpan.FromMilliseconds(300)));
        await ch.BasicAckAsync(got[0].DeliveryTag, false);
        var next = await deliveries.NextAsync();
        Assert.Equal("p3", Text(next.Body));
        Assert.True(await deliveries.NothingWithin(TimeSpan.FromMilliseconds(200)));
    }

    [Fact]
    public async Task GlobalPrefetchIsSharedByTheChannelsConsumers()
    {
        var (conn, ch, q) = await SetupAsync();
        await using var _ = conn;
        var q2 = (await ch.QueueDeclareAsync(UniqueName("basic2"))).QueueName;
        await ch.BasicQosAsync(0, 2, global: true);
        for (int i = 0; i < 5; i++)
        {
            await ch.BasicPublishAsync("", q, Body("g" + i));
            await ch.BasicPublishAsync("", q2, Body("h" + i));
        }

        var (_, d1) = await ConsumeAsync(ch, q);
        var (_, d2) = await ConsumeAsync(ch, q2);
        await Wait.Until(() => d1.Reader.Count + d2.Reader.Count >= 2, "two deliveries");
        Assert.True(await d1.NothingWithin(TimeSpan.FromMilliseconds(200)) || d1.Reader.Count <= 2);
        Assert.Equal(2, d1.Reader.Count + d2.Reader.Count);
    }

    [Fact]
    public async Task GlobalPrefetchDoesNotHoardMessagesOtherConsumersCouldTake()
    {
        var (conn, ch, q) = await SetupAsync();
        await using var _ = conn;
        // Channel A: channel-wide prefetch 1 and never acks. Channel B: no limit.
        await using var a = await conn.CreateChannelAsync();
        await a.BasicQosAsync(0, 1, global: true);
        var (_, fromA) = await ConsumeAsync(a, q);
        await using var b = await conn.CreateChannelAsync();
        var (_, fromB) = await ConsumeAsync(b, q, autoAck: true);
        for (int i = 0; i < 20; i++)
        {
            await ch.BasicPublishAsync("", q, Body("h" + i));
        }

        // A takes its one message (and at most one more waiting for room); B gets the rest.
        await Wait.Until(() => fromB.Reader.Count >= 18, "B to receive at least 18 of 20");
        Assert.Equal(1, fromA.Reader.Count);
    }

    [Fact]
    public async Task CancelStopsDeliveries()
    {
        var (conn, ch, q) = await SetupAsync();
        await using var _ = conn;
        var (tag, deliveries) = await ConsumeAsync(ch, q, autoAck: true);
        await ch.BasicPublishAsync("", q, Body("before"));
        Assert.Equal("before", Text((await deliveries.NextAsync()).Body));
        await ch.BasicCancelAsync(tag);
        await ch.BasicPublishAsync("", q, Body("after"));
        Assert.True(await deliveries.NothingWithin(TimeSpan.FromMilliseconds(300)));
        Assert.Equal(1u, await ch.MessageCountAsync(q));
    }

    [Fact]
    public async Task ConsumersShareAQueueRoundRobin()
    {
        var (conn, ch, q) = await SetupAsync();
        await using var _ = conn;
        var (_, a) = await ConsumeAsync(ch, q, autoAck: true);
        var (_, b) = await ConsumeAsync(ch, q, autoAck: true);
        for (int i = 0; i < 10; i++)
        {
            await ch.BasicPublishAsync("", q, Body("r" + i));
        }

        await Wait.Until(() => a.Reader.Count + b.Reader.Count == 10, "ten deliveries");
        Assert.Equal(5, a.Reader.Count);
        Assert.Equal(5, b.Reader.Count);
    }

    [Fact]
    public async Task ExclusiveConsumerKeepsOthersOut403()
    {
        var (conn, ch, q) = await SetupAsync();
        await using var _ = conn;
        await ConsumeAsync(ch, q, exclusive: true);
        await using var ch2 = await conn.CreateChannelAsync();
        ushort code = await ChannelErrorCode(ch2, () => ConsumeAsync(ch2, q));
        Assert.Equal(403, code);
    }

    [Fact]
    public async Task ConsumingFromAMissingQueueIs404()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        ushort code = await ChannelErrorCode(ch, () => ConsumeAsync(ch, UniqueName("missing")));
        Assert.Equal(404, code);
    }

    [Fact]
    public async Task DeletingAQueueCancelsItsConsumers()
    {
        var (conn, ch, q) = await SetupAsync();
        await using var _ = conn;
        var consumer = new AsyncEventingBasicConsumer(ch);
        var cancelled = new TaskCompletionSource<string[]>();
        consumer.UnregisteredAsync += (_, e) =>
        {
            cancelled.TrySetResult(e.ConsumerTags);
            return Task.CompletedTask;
        };
        string tag = await ch.BasicConsumeAsync(q, true, consumer);
        await using var ch2 = await conn.CreateChannelAsync();
        await ch2.QueueDeleteAsync(q);
        var tags = await Wait.For(cancelled.Task);
        Assert.Contains(tag, tags);
        Assert.True(ch.IsOpen);
    }

    [Fact]
    public async Task QosWithPrefetchSizeIsNotImplemented540()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        var ex = await Assert.ThrowsAnyAsync<RabbitMQ.Client.Exceptions.OperationInterruptedException>(() => ch.BasicQosAsync(1000, 10, false));
        Assert.Equal(540, ex.ShutdownReason!.ReplyCode);
    }

    [Fact]
    public async Task MessageLargerThanTheLimitIs406()
    {
        await using var broker = await BrokerFixture.StartAsync(new() { ["BROKER_MAX_MESSAGE_SIZE"] = "1000" });
        await using var conn = await broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        var q = await ch.QueueDeclareAsync("", exclusive: true);
        await ch.BasicPublishAsync("", q.QueueName, new byte[2000]);
        ushort code = await ChannelErrorCode(ch, () => ch.QueueDeclarePassiveAsync(q.QueueName));
        Assert.Equal(406, code);
        Assert.True(conn.IsOpen);
    }
}
