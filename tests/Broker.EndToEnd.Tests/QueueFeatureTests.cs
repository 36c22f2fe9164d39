using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// Queue arguments and consumer arguments with a real client, checked against what RabbitMQ 3.10
/// does (reply texts and headers as measured on it): TTL, dead-lettering, length limits,
/// priorities, single active consumer, consumer priorities, delivery limits, queue expiry.
/// </summary>
[Collection("broker")]
public sealed class QueueFeatureTests
{
    private readonly BrokerFixture _broker;

    public QueueFeatureTests(BrokerFixture broker) => _broker = broker;

    private static Task<IChannel> ConfirmChannel(IConnection conn) =>
        conn.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));

    private static Dictionary<string, object?> Args(params (string Key, object? Value)[] args) =>
        args.ToDictionary(a => a.Key, a => a.Value);

    /// <summary>A fanout dead-letter exchange feeding a queue: returns (exchange, queue).</summary>
    private static async Task<(string Exchange, string Queue)> DeadLetterTarget(IChannel ch, string prefix)
    {
        string dlx = UniqueName(prefix + "-dlx"), dlq = UniqueName(prefix + "-dlq");
        await ch.ExchangeDeclareAsync(dlx, ExchangeType.Fanout);
        await ch.QueueDeclareAsync(dlq, durable: false, exclusive: false, autoDelete: false);
        await ch.QueueBindAsync(dlq, dlx, "");
        return (dlx, dlq);
    }

    /// <summary>basic.get until a message comes (auto-acked unless <paramref name="autoAck"/> is false), for at most the timeout.</summary>
    private static async Task<BasicGetResult> GetWithin(IChannel ch, string queue, TimeSpan timeout, bool autoAck = true)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await ch.BasicGetAsync(queue, autoAck) is { } r)
            {
                return r;
            }

            Assert.True(DateTime.UtcNow < deadline, $"nothing arrived in '{queue}' within {timeout}");
            await Task.Delay(20);
        }
    }

    private static string Str(object? v) => v is byte[] b ? Encoding.UTF8.GetString(b) : v?.ToString() ?? "";

    private static IDictionary<string, object?> Death(IReadOnlyBasicProperties p, int i = 0) =>
        (IDictionary<string, object?>)((IList<object?>)p.Headers!["x-death"]!)[i]!;

    [Fact]
    public async Task Message_ttl_dead_letters_with_reason_expired()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        var (dlx, dlq) = await DeadLetterTarget(ch, "ttl");
        string q = UniqueName("ttl");
        await ch.QueueDeclareAsync(q, false, false, false, Args(("x-message-ttl", 100), ("x-dead-letter-exchange", dlx)));
        await ch.BasicPublishAsync("", q, false, new BasicProperties { Expiration = "50000" }, Body("m"));

        var got = await GetWithin(ch, dlq, TimeSpan.FromSeconds(5));
        Assert.Equal(dlx, got.Exchange);
        Assert.Equal(q, got.RoutingKey);
        Assert.Null(got.BasicProperties.Expiration);
        var death = Death(got.BasicProperties);
        Assert.Equal("expired", Str(death["reason"]));
        Assert.Equal("50000", Str(death["original-expiration"]));
        Assert.Equal("", Str(death["exchange"]));
        Assert.Equal(0u, (await ch.QueueDeclarePassiveAsync(q)).MessageCount);
    }

    [Fact]
    public async Task Per_message_expiration_drops_an_unconsumed_message_and_ttl_zero_reaches_a_waiting_consumer()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string q = UniqueName("exp");
        await ch.QueueDeclareAsync(q, false, false, false);
        await ch.BasicPublishAsync("", q, false, new BasicProperties { Expiration = "100" }, Body("short"));
        await ch.BasicPublishAsync("", q, false, new BasicProperties { Expiration = "0" }, Body("zero"));
        await Wait.Until(async () => (await ch.QueueDeclarePassiveAsync(q)).MessageCount == 0, "both messages to expire");
        Assert.Null(await ch.BasicGetAsync(q, autoAck: true));

        var (_, deliveries) = await ConsumeAsync(ch, q, autoAck: true);
        await ch.BasicPublishAsync("", q, false, new BasicProperties { Expiration = "0" }, Body("taken"));
        Assert.Equal("taken", Text((await deliveries.NextAsync()).Body));
    }

    [Theory]
    [InlineData("abc", "PRECONDITION_FAILED - invalid expiration 'abc': no_integer")]
    [InlineData("-1", "PRECONDITION_FAILED - invalid expiration '-1': {value_negative,-1}")]
    [InlineData("1.5", "PRECONDITION_FAILED - invalid expiration '1.5': {leftover_string,\".5\"}")]
    public async Task An_invalid_expiration_closes_the_channel_with_406(string expiration, string text)
    {
        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        string q = UniqueName("badexp");
        await ch.QueueDeclareAsync(q, false, false, false);
        var (code, reply) = await ChannelError(ch, async () =>
        {
            await ch.BasicPublishAsync("", q, false, new BasicProperties { Expiration = expiration }, Body("m"));
            await ch.QueueDeclarePassiveAsync(q);
        });
        Assert.Equal(406, code);
        Assert.Equal(text, reply);
    }

    [Fact]
    public async Task Rejected_message_is_dead_lettered_with_x_death_as_rabbitmq_writes_it()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        var (dlx, dlq) = await DeadLetterTarget(ch, "rej");
        string src = UniqueName("rej-src"), srcX = UniqueName("rej-x");
        await ch.ExchangeDeclareAsync(srcX, ExchangeType.Direct);
        await ch.QueueDeclareAsync(src, false, false, false, Args(("x-dead-letter-exchange", dlx)));
        await ch.QueueBindAsync(src, srcX, "rk");
        var props = new BasicProperties
        {
            DeliveryMode = DeliveryModes.Persistent,
            MessageId = "mid-1",
            Headers = new Dictionary<string, object?> { ["h1"] = 1, ["h2"] = "s" },
        };
        await ch.BasicPublishAsync(srcX, "rk", false, props, Body("hello"));
        var first = await GetWithinNoAck(ch, src);
        await ch.BasicRejectAsync(first.DeliveryTag, requeue: false);

        var dead = await GetWithin(ch, dlq, TimeSpan.FromSeconds(5));
        Assert.Equal(dlx, dead.Exchange);
        Assert.Equal("rk", dead.RoutingKey);
        Assert.Equal("hello", Text(dead.Body));
        var p = dead.BasicProperties;
        Assert.Equal(DeliveryModes.Persistent, p.DeliveryMode);
        Assert.Equal("mid-1", p.MessageId);
        Assert.IsType<int>(p.Headers!["h1"]);
        Assert.Equal("s", Str(p.Headers["h2"]));
        var death = Death(p);
        Assert.Equal(1L, Assert.IsType<long>(death["count"]));
        Assert.Equal("rejected", Str(death["reason"]));
        Assert.Equal(src, Str(death["queue"]));
        Assert.Equal(srcX, Str(death["exchange"]));
        Assert.Equal(new[] { "rk" }, ((IList<object?>)death["routing-keys"]!).Select(Str));
        var time = Assert.IsType<AmqpTimestamp>(death["time"]);
        Assert.InRange(time.UnixTime, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        Assert.Equal("rejected", Str(p.Headers["x-first-death-reason"]));
        Assert.Equal(src, Str(p.Headers["x-first-death-queue"]));
        Assert.Equal(srcX, Str(p.Headers["x-first-death-exchange"]));
    }

    [Fact]
    public async Task A_reject_cycle_counts_up_in_x_death_and_an_expiry_cycle_is_dropped()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        // A queue that dead-letters to itself through the default exchange.
        string q = UniqueName("cycle");
        await ch.QueueDeclareAsync(q, false, false, false, Args(("x-dead-letter-exchange", ""), ("x-dead-letter-routing-key", q)));
        await ch.BasicPublishAsync("", q, Body("m"));
        for (int round = 1; round <= 3; round++)
        {
            var m = await GetWithinNoAck(ch, q);
            if (round > 1)
            {
                Assert.Equal((long)(round - 1), Death(m.BasicProperties)["count"]);
                Assert.Single((IList<object?>)m.BasicProperties.Headers!["x-death"]!);
            }

            await ch.BasicRejectAsync(m.DeliveryTag, requeue: false);
        }

        string ttl = UniqueName("cycle-ttl");
        await ch.QueueDeclareAsync(ttl, false, false, false,
            Args(("x-message-ttl", 50), ("x-dead-letter-exchange", ""), ("x-dead-letter-routing-key", ttl)));
        await ch.BasicPublishAsync("", ttl, Body("m"));
        await Task.Delay(800);
        Assert.Equal(0u, (await ch.QueueDeclarePassiveAsync(ttl)).MessageCount);
    }

    private static Task<BasicGetResult> GetWithinNoAck(IChannel ch, string queue) => GetWithin(ch, queue, TimeSpan.FromSeconds(5), autoAck: false);

    [Fact]
    public async Task Max_length_drops_the_head_into_the_dead_letter_exchange()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        var (dlx, dlq) = await DeadLetterTarget(ch, "maxlen");
        string q = UniqueName("maxlen");
        await ch.QueueDeclareAsync(q, false, false, false, Args(("x-max-length", 2), ("x-dead-letter-exchange", dlx)));
        for (int i = 0; i < 3; i++)
        {
            await ch.BasicPublishAsync("", q, Body("m" + i));
        }

        var dead = await GetWithin(ch, dlq, TimeSpan.FromSeconds(5));
        Assert.Equal("m0", Text(dead.Body));
        Assert.Equal("maxlen", Str(Death(dead.BasicProperties)["reason"]));
        Assert.Equal(2u, (await ch.QueueDeclarePassiveAsync(q)).MessageCount);
    }

    [Fact]
    public async Task Max_length_bytes_counts_bodies_only()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string q = UniqueName("maxbytes");
        await ch.QueueDeclareAsync(q, false, false, false, Args(("x-max-length-bytes", 10)));
        var big = new BasicProperties { Headers = new Dictionary<string, object?> { ["pad"] = new string('x', 500) } };
        await ch.BasicPublishAsync("", q, false, big, Body("12345"));
        await ch.BasicPublishAsync("", q, false, big, Body("67890"));
        Assert.Equal(2u, (await ch.QueueDeclarePassiveAsync(q)).MessageCount);
        await ch.BasicPublishAsync("", q, false, big, Body("!"));
        Assert.Equal(2u, (await ch.QueueDeclarePassiveAsync(q)).MessageCount);
        Assert.Equal("67890", Text((await ch.BasicGetAsync(q, true))!.Body));
    }

    [Fact]
    public async Task Reject_publish_nacks_confirmed_publishes_and_reject_publish_dlx_dead_letters_them()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await ConfirmChannel(conn);
        string q = UniqueName("rejpub");
        await ch.QueueDeclareAsync(q, false, false, false, Args(("x-max-length", 1), ("x-overflow", "reject-publish")));
        await ch.BasicPublishAsync("", q, Body("in"));
        var nack = await Assert.ThrowsAsync<PublishException>(async () => await ch.BasicPublishAsync("", q, Body("out")));
        Assert.False(nack.IsReturn);
        Assert.Equal(1u, (await ch.QueueDeclarePassiveAsync(q)).MessageCount);

        var (dlx, dlq) = await DeadLetterTarget(ch, "rejpubdlx");
        string q2 = UniqueName("rejpubdlx");
        await ch.QueueDeclareAsync(q2, false, false, false,
            Args(("x-max-length", 1), ("x-overflow", "reject-publish-dlx"), ("x-dead-letter-exchange", dlx)));
        await ch.BasicPublishAsync("", q2, Body("in"));
        await Assert.ThrowsAsync<PublishException>(async () => await ch.BasicPublishAsync("", q2, Body("refused")));
        var dead = await GetWithin(ch, dlq, TimeSpan.FromSeconds(5));
        Assert.Equal("refused", Text(dead.Body));
        Assert.Equal("maxlen", Str(Death(dead.BasicProperties)["reason"]));
    }

    [Fact]
    public async Task Priorities_are_served_highest_first_and_capped_at_the_maximum()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await ConfirmChannel(conn);
        string q = UniqueName("prio");
        await ch.QueueDeclareAsync(q, false, false, false, Args(("x-max-priority", 5)));
        foreach (var (body, priority) in new (string, byte?)[] { ("p0", 0), ("none", null), ("p5", 5), ("p10", 10), ("p1", 1), ("p3", 3) })
        {
            var props = new BasicProperties();
            if (priority is { } p)
            {
                props.Priority = p;
            }

            await ch.BasicPublishAsync("", q, false, props, Body(body));
        }

        var order = new List<string>();
        while (await ch.BasicGetAsync(q, true) is { } r)
        {
            order.Add(Text(r.Body));
        }

        Assert.Equal(new[] { "p5", "p10", "p3", "p1", "p0", "none" }, order);
    }

    [Fact]
    public async Task Single_active_consumer_gets_everything_until_it_cancels()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string q = UniqueName("sac");
        await ch.QueueDeclareAsync(q, false, false, false, Args(("x-single-active-consumer", true)));
        await using var chA = await conn.CreateChannelAsync();
        await using var chB = await conn.CreateChannelAsync();
        var (tagA, a) = await ConsumeAsync(chA, q, autoAck: true);
        var (_, b) = await ConsumeAsync(chB, q, autoAck: true);
        for (int i = 0; i < 4; i++)
        {
            await ch.BasicPublishAsync("", q, Body("m" + i));
        }

        for (int i = 0; i < 4; i++)
        {
            Assert.Equal("m" + i, Text((await a.NextAsync()).Body));
        }

        Assert.True(await b.NothingWithin(TimeSpan.FromMilliseconds(200)));
        await chA.BasicCancelAsync(tagA);
        await ch.BasicPublishAsync("", q, Body("after"));
        Assert.Equal("after", Text((await b.NextAsync()).Body));

        var exclusive = await conn.CreateChannelAsync();
        var (code, text) = await ChannelError(exclusive, () => ConsumeAsync(exclusive, q, exclusive: true));
        Assert.Equal(403, code);
        Assert.Equal($"ACCESS_REFUSED - queue '{q}' in vhost '/' in exclusive use", text);
    }

    [Fact]
    public async Task Higher_priority_consumers_are_served_while_they_have_room()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string q = UniqueName("cprio");
        await ch.QueueDeclareAsync(q, false, false, false);
        await using var low = await conn.CreateChannelAsync();
        await using var high = await conn.CreateChannelAsync();
        await high.BasicQosAsync(0, 2, false);
        var lowDeliveries = System.Threading.Channels.Channel.CreateUnbounded<string>();
        var highDeliveries = System.Threading.Channels.Channel.CreateUnbounded<string>();
        await Consume(low, q, 0, lowDeliveries);
        await Consume(high, q, 10, highDeliveries);
        for (int i = 0; i < 5; i++)
        {
            await ch.BasicPublishAsync("", q, Body("m" + i));
        }

        // The high-priority consumer takes its prefetch of 2 (never acked); the rest go to the low one.
        await Wait.Until(() => highDeliveries.Reader.Count == 2 && lowDeliveries.Reader.Count == 3, "deliveries split 2/3");
        Assert.Equal("m0", await highDeliveries.Reader.ReadAsync());
        Assert.Equal("m1", await highDeliveries.Reader.ReadAsync());

        static async Task Consume(IChannel ch, string q, int priority, System.Threading.Channels.Channel<string> into)
        {
            var consumer = new AsyncEventingBasicConsumer(ch);
            consumer.ReceivedAsync += (_, ea) =>
            {
                into.Writer.TryWrite(Text(ea.Body));
                return Task.CompletedTask;
            };
            await ch.BasicConsumeAsync(q, autoAck: false, "", false, false, new Dictionary<string, object?> { ["x-priority"] = priority }, consumer);
        }
    }

    [Fact]
    public async Task Delivery_limit_on_a_quorum_queue_dead_letters_with_x_delivery_count()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        var (dlx, dlq) = await DeadLetterTarget(ch, "dlim");
        string q = UniqueName("dlim");
        await ch.QueueDeclareAsync(q, true, false, false,
            Args(("x-queue-type", "quorum"), ("x-delivery-limit", 1), ("x-dead-letter-exchange", dlx)));
        await ch.BasicPublishAsync("", q, Body("m"));
        var first = await GetWithinNoAck(ch, q);
        await ch.BasicNackAsync(first.DeliveryTag, false, requeue: true);
        var second = await GetWithinNoAck(ch, q);
        Assert.True(second.Redelivered);
        Assert.Equal(1L, second.BasicProperties.Headers!["x-delivery-count"]);
        await ch.BasicNackAsync(second.DeliveryTag, false, requeue: true);

        var dead = await GetWithin(ch, dlq, TimeSpan.FromSeconds(5));
        Assert.Equal("delivery_limit", Str(Death(dead.BasicProperties)["reason"]));
        Assert.Equal(0u, (await ch.QueueDeclarePassiveAsync(q)).MessageCount);
        await ch.QueueDeleteAsync(q);
    }

    [Fact]
    public async Task An_unused_queue_expires_and_one_with_a_consumer_does_not()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string idle = UniqueName("expires-idle"), used = UniqueName("expires-used");
        await ch.QueueDeclareAsync(idle, false, false, false, Args(("x-expires", 300)));
        await ch.QueueDeclareAsync(used, false, false, false, Args(("x-expires", 300)));
        await ConsumeAsync(ch, used);
        // Passive declares only look: they do not renew the lease.
        (ushort Code, string Text) gone = default;
        await Wait.Until(async () =>
        {
            var probe = await conn.CreateChannelAsync();
            try
            {
                await probe.QueueDeclarePassiveAsync(idle);
                return false;
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException e) when (e.ShutdownReason is { } r)
            {
                gone = (r.ReplyCode, r.ReplyText);
                return true;
            }
        }, "the idle queue to expire");
        Assert.Equal((404, $"NOT_FOUND - no queue '{idle}' in vhost '/'"), gone);
        // Three times its x-expires later, the queue with a consumer is still there.
        await Task.Delay(900);
        Assert.Equal(1u, (await ch.QueueDeclarePassiveAsync(used)).ConsumerCount);
    }

    [Theory]
    [InlineData("x-message-ttl", -1, "{value_negative,-1}")]
    [InlineData("x-expires", 0, "{value_zero,0}")]
    [InlineData("x-max-priority", 256, "{max_value_exceeded,256}")]
    [InlineData("x-max-length", "ten", "\"expected integer, got longstr\"")]
    [InlineData("x-overflow", "bogus", "invalid_overflow")]
    public async Task Invalid_arguments_are_refused_with_rabbitmqs_text(string key, object value, string error)
    {
        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        string q = UniqueName("badarg");
        var (code, text) = await ChannelError(ch, () => ch.QueueDeclareAsync(q, false, false, false, Args((key, value))));
        Assert.Equal(406, code);
        Assert.Equal($"PRECONDITION_FAILED - invalid arg '{key}' for queue '{q}' in vhost '/': {error}", text);
    }

    [Fact]
    public async Task A_redeclare_must_repeat_the_known_arguments_and_may_differ_in_unknown_ones()
    {
        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        string q = UniqueName("redecl");
        await ch.QueueDeclareAsync(q, false, false, false, Args(("x-message-ttl", 1000)));
        // Integers compare by value whatever their width; unknown arguments are not compared.
        await ch.QueueDeclareAsync(q, false, false, false, Args(("x-message-ttl", 1000L), ("x-foo", "bar")));
        var (code, text) = await ChannelError(ch, () => ch.QueueDeclareAsync(q, false, false, false, Args(("x-message-ttl", 2000))));
        Assert.Equal(406, code);
        Assert.Equal($"PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue '{q}' in vhost '/': received '2000' but current is '1000'", text);
        ch = await conn.CreateChannelAsync();
        (code, text) = await ChannelError(ch, () => ch.QueueDeclareAsync(q, false, false, false));
        Assert.Equal($"PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue '{q}' in vhost '/': received none but current is the value '1000' of type 'signedint'", text);
    }
}
