using System.Threading.Channels;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

[Collection("broker")]
public sealed class RoutingTests
{
    private const string Marker = "__marker__";
    private readonly BrokerFixture _broker;

    public RoutingTests(BrokerFixture broker) => _broker = broker;

    /// <summary>
    /// A set of exclusive queues, each with a consumer. <see cref="Drain"/> publishes a marker to every queue
    /// through the default exchange on the publishing channel, then collects each queue's deliveries up to its
    /// marker: since a channel's publishes reach a queue in order, that is exactly what was routed before.
    /// </summary>
    private sealed class Probe
    {
        private readonly Dictionary<string, Channel<BasicDeliverEventArgs>> _deliveries = new();
        private readonly IChannel _publisher;

        private Probe(IChannel publisher) => _publisher = publisher;

        public static async Task<Probe> Create(IConnection conn, IChannel publisher, IChannel consumer, params string[] names)
        {
            var probe = new Probe(publisher);
            foreach (var name in names)
            {
                await publisher.QueueDeclareAsync(name, durable: false, exclusive: true, autoDelete: false);
                var (_, d) = await ConsumeAsync(consumer, name, autoAck: true);
                probe._deliveries[name] = d;
            }

            return probe;
        }

        public async Task<Dictionary<string, List<string>>> Drain()
        {
            foreach (var name in _deliveries.Keys)
            {
                await _publisher.BasicPublishAsync("", name, Body(Marker));
            }

            var result = new Dictionary<string, List<string>>();
            foreach (var (name, d) in _deliveries)
            {
                var got = new List<string>();
                while (true)
                {
                    string body = Text((await d.NextAsync()).Body);
                    if (body == Marker)
                    {
                        break;
                    }

                    got.Add(body);
                }

                result[name] = got;
            }

            return result;
        }
    }

    private static void AssertRouted(Dictionary<string, List<string>> actual, Dictionary<string, string[]> expected)
    {
        foreach (var (queue, bodies) in expected)
        {
            Assert.True(actual.ContainsKey(queue), $"no result for {queue}");
            Assert.True(bodies.Order().SequenceEqual(actual[queue].Order()),
                $"queue {queue}: expected [{string.Join(", ", bodies)}] but got [{string.Join(", ", actual[queue])}]");
        }
    }

    [Fact]
    public async Task DirectExchangeRoutesByExactKey()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var pub = await conn.CreateChannelAsync();
        await using var sub = await conn.CreateChannelAsync();
        string x = UniqueName("x-direct");
        string q1 = UniqueName("q-d1"), q2 = UniqueName("q-d2"), q3 = UniqueName("q-d3");
        await pub.ExchangeDeclareAsync(x, ExchangeType.Direct, durable: false, autoDelete: false);
        var probe = await Probe.Create(conn, pub, sub, q1, q2, q3);
        await pub.QueueBindAsync(q1, x, "red");
        await pub.QueueBindAsync(q2, x, "green");
        await pub.QueueBindAsync(q3, x, "red");
        await pub.QueueBindAsync(q3, x, "blue");

        await pub.BasicPublishAsync(x, "red", Body("r"));
        await pub.BasicPublishAsync(x, "green", Body("g"));
        await pub.BasicPublishAsync(x, "blue", Body("b"));
        await pub.BasicPublishAsync(x, "Red", Body("case"));
        await pub.BasicPublishAsync(x, "red.x", Body("longer"));
        await pub.BasicPublishAsync(x, "", Body("empty"));

        AssertRouted(await probe.Drain(), new()
        {
            [q1] = ["r"],
            [q2] = ["g"],
            [q3] = ["r", "b"],
        });
        await pub.ExchangeDeleteAsync(x);
    }

    [Fact]
    public async Task FanoutExchangeRoutesToAllIgnoringTheKey()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var pub = await conn.CreateChannelAsync();
        await using var sub = await conn.CreateChannelAsync();
        string x = UniqueName("x-fanout");
        string q1 = UniqueName("q-f1"), q2 = UniqueName("q-f2"), q3 = UniqueName("q-f3"), unbound = UniqueName("q-f4");
        await pub.ExchangeDeclareAsync(x, ExchangeType.Fanout, durable: false, autoDelete: false);
        var probe = await Probe.Create(conn, pub, sub, q1, q2, q3, unbound);
        await pub.QueueBindAsync(q1, x, "");
        await pub.QueueBindAsync(q2, x, "some-key");
        await pub.QueueBindAsync(q3, x, "other");

        await pub.BasicPublishAsync(x, "", Body("one"));
        await pub.BasicPublishAsync(x, "whatever.key", Body("two"));

        AssertRouted(await probe.Drain(), new()
        {
            [q1] = ["one", "two"],
            [q2] = ["one", "two"],
            [q3] = ["one", "two"],
            [unbound] = [],
        });
        await pub.ExchangeDeleteAsync(x);
    }

    [Fact]
    public async Task TopicExchangeMatchesStarAndHash()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var pub = await conn.CreateChannelAsync();
        await using var sub = await conn.CreateChannelAsync();
        string x = UniqueName("x-topic");
        var patterns = new[] { "a.*", "a.#", "#", "a.#.b", "*.b", "a.*.c", "*", "a.b", "#.c" };
        var queues = patterns.ToDictionary(p => p, p => UniqueName("q-t"));
        await pub.ExchangeDeclareAsync(x, ExchangeType.Topic, durable: false, autoDelete: false);
        var probe = await Probe.Create(conn, pub, sub, queues.Values.ToArray());
        foreach (var (pattern, q) in queues)
        {
            await pub.QueueBindAsync(q, x, pattern);
        }

        var keys = new[] { "a", "a.b", "a.x.y.b", "a.x.c", "b", "", "x.a.b", "a.b.c", "c", "ab" };
        foreach (var key in keys)
        {
            await pub.BasicPublishAsync(x, key, Body("key=" + key));
        }

        static string[] K(params string[] ks) => ks.Select(k => "key=" + k).ToArray();
        var result = await probe.Drain();
        AssertRouted(result, new()
        {
            [queues["a.*"]] = K("a.b"),
            // '#' matches zero words: "a" matches a.#.
            [queues["a.#"]] = K("a", "a.b", "a.x.y.b", "a.x.c", "a.b.c"),
            [queues["#"]] = K(keys),
            // a.#.b: '#' matching zero (a.b) or several (a.x.y.b) words.
            [queues["a.#.b"]] = K("a.b", "a.x.y.b"),
            [queues["*.b"]] = K("a.b"),
            [queues["a.*.c"]] = K("a.x.c", "a.b.c"),
            // '*' is exactly one word: not the empty key, not two words.
            [queues["*"]] = K("a", "b", "c", "ab"),
            [queues["a.b"]] = K("a.b"),
            [queues["#.c"]] = K("a.x.c", "a.b.c", "c"),
        });
        await pub.ExchangeDeleteAsync(x);
    }

    [Fact]
    public async Task HeadersExchangeMatchesAllAndAny()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var pub = await conn.CreateChannelAsync();
        await using var sub = await conn.CreateChannelAsync();
        string x = UniqueName("x-headers");
        string all = UniqueName("q-h-all"), any = UniqueName("q-h-any"), implicitAll = UniqueName("q-h-default"), empty = UniqueName("q-h-empty");
        await pub.ExchangeDeclareAsync(x, ExchangeType.Headers, durable: false, autoDelete: false);
        var probe = await Probe.Create(conn, pub, sub, all, any, implicitAll, empty);
        await pub.QueueBindAsync(all, x, "", new Dictionary<string, object?> { ["x-match"] = "all", ["h1"] = "v1", ["h2"] = "v2" });
        await pub.QueueBindAsync(any, x, "", new Dictionary<string, object?> { ["x-match"] = "any", ["h1"] = "v1", ["h2"] = "v2" });
        // No x-match means all.
        await pub.QueueBindAsync(implicitAll, x, "", new Dictionary<string, object?> { ["h1"] = "v1", ["n"] = 42 });
        // x-match all with no headers to match: matches everything.
        await pub.QueueBindAsync(empty, x, "", new Dictionary<string, object?> { ["x-match"] = "all" });

        async Task Send(string body, Dictionary<string, object?>? headers, string key = "ignored")
        {
            var props = new BasicProperties { Headers = headers };
            await pub.BasicPublishAsync(x, key, false, props, Body(body));
        }

        await Send("both", new() { ["h1"] = "v1", ["h2"] = "v2" });
        await Send("both+extra", new() { ["h1"] = "v1", ["h2"] = "v2", ["h3"] = "v3" }, key: "other-key");
        await Send("h1-only", new() { ["h1"] = "v1" });
        await Send("h1-and-wrong-h2", new() { ["h1"] = "v1", ["h2"] = "nope" });
        await Send("both-wrong", new() { ["h1"] = "x", ["h2"] = "y" });
        await Send("h2-only", new() { ["h2"] = "v2" });
        await Send("no-headers", null);
        await Send("h1-and-n", new() { ["h1"] = "v1", ["n"] = 42 });
        await Send("h1-and-wrong-n", new() { ["h1"] = "v1", ["n"] = 43 });

        AssertRouted(await probe.Drain(), new()
        {
            [all] = ["both", "both+extra"],
            [any] = ["both", "both+extra", "h1-only", "h1-and-wrong-h2", "h2-only", "h1-and-n", "h1-and-wrong-n"],
            [implicitAll] = ["h1-and-n"],
            [empty] = ["both", "both+extra", "h1-only", "h1-and-wrong-h2", "both-wrong", "h2-only", "no-headers", "h1-and-n", "h1-and-wrong-n"],
        });
        await pub.ExchangeDeleteAsync(x);
    }

    [Fact]
    public async Task DefaultExchangeRoutesByQueueName()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var pub = await conn.CreateChannelAsync();
        await using var sub = await conn.CreateChannelAsync();
        string q1 = UniqueName("q-def1"), q2 = UniqueName("q-def2");
        var probe = await Probe.Create(conn, pub, sub, q1, q2);

        await pub.BasicPublishAsync("", q1, Body("to q1"));
        await pub.BasicPublishAsync("", q2, Body("to q2"));
        await pub.BasicPublishAsync("", UniqueName("q-nobody"), Body("to nobody"));

        var result = await probe.Drain();
        AssertRouted(result, new() { [q1] = ["to q1"], [q2] = ["to q2"] });
        Assert.True(pub.IsOpen);
    }

    [Fact]
    public async Task DefaultExchangeDeliveryCarriesEmptyExchangeAndQueueNameAsKey()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        var q = (await ch.QueueDeclareAsync("", false, true, false)).QueueName;
        var (_, d) = await ConsumeAsync(ch, q, autoAck: true);
        await ch.BasicPublishAsync("", q, Body("hi"));
        var got = await d.NextAsync();
        Assert.Equal("", got.Exchange);
        Assert.Equal(q, got.RoutingKey);
        Assert.Equal("hi", Text(got.Body));
    }

    [Theory]
    [InlineData("amq.direct", ExchangeType.Direct)]
    [InlineData("amq.fanout", ExchangeType.Fanout)]
    [InlineData("amq.topic", ExchangeType.Topic)]
    [InlineData("amq.headers", ExchangeType.Headers)]
    [InlineData("amq.match", ExchangeType.Headers)]
    public async Task StandardExchangesExist(string name, string type)
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        await ch.ExchangeDeclarePassiveAsync(name);
        // They are durable, not auto-delete, of their type: an equivalent redeclare is accepted.
        await ch.ExchangeDeclareAsync(name, type, durable: true, autoDelete: false);

        // And they route.
        var q = (await ch.QueueDeclareAsync("", false, true, false)).QueueName;
        var bindArgs = type == ExchangeType.Headers ? new Dictionary<string, object?> { ["x-match"] = "any", ["q"] = q } : null;
        await ch.QueueBindAsync(q, name, q, bindArgs);
        var (_, d) = await ConsumeAsync(ch, q, autoAck: true);
        await ch.BasicPublishAsync(name, q, false, new BasicProperties { Headers = new Dictionary<string, object?> { ["q"] = q } }, Body("via " + name));
        var got = await d.NextAsync();
        Assert.Equal("via " + name, Text(got.Body));
        Assert.Equal(name, got.Exchange);
        await ch.QueueUnbindAsync(q, name, q, bindArgs);
    }

    [Fact]
    public async Task AMessageReachesEachQueueOnceEvenWhenSeveralBindingsMatch()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var pub = await conn.CreateChannelAsync();
        await using var sub = await conn.CreateChannelAsync();
        string topic = UniqueName("x-multi-topic");
        string fan = UniqueName("x-multi-fan");
        string q1 = UniqueName("q-m1"), q2 = UniqueName("q-m2"), q3 = UniqueName("q-m3");
        await pub.ExchangeDeclareAsync(topic, ExchangeType.Topic, durable: false, autoDelete: false);
        await pub.ExchangeDeclareAsync(fan, ExchangeType.Fanout, durable: false, autoDelete: false);
        var probe = await Probe.Create(conn, pub, sub, q1, q2, q3);

        // q1: three matching topic bindings.
        await pub.QueueBindAsync(q1, topic, "a.*");
        await pub.QueueBindAsync(q1, topic, "a.#");
        await pub.QueueBindAsync(q1, topic, "#");
        // q2: one direct binding plus a path through another exchange.
        await pub.QueueBindAsync(q2, topic, "a.b");
        await pub.ExchangeBindAsync(fan, topic, "#");
        await pub.QueueBindAsync(q2, fan, "");
        // q3: reachable only through the fanout, twice (two e2e bindings to it).
        await pub.ExchangeBindAsync(fan, topic, "a.*");
        await pub.QueueBindAsync(q3, fan, "x");
        await pub.QueueBindAsync(q3, fan, "y");

        await pub.BasicPublishAsync(topic, "a.b", Body("once"));
        AssertRouted(await probe.Drain(), new()
        {
            [q1] = ["once"],
            [q2] = ["once"],
            [q3] = ["once"],
        });

        await pub.ExchangeDeleteAsync(fan);
        await pub.ExchangeDeleteAsync(topic);
    }

    [Fact]
    public async Task ExchangeBindingCyclesDoNotLoopOrDuplicate()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var pub = await conn.CreateChannelAsync();
        await using var sub = await conn.CreateChannelAsync();
        string a = UniqueName("x-cycle-a"), b = UniqueName("x-cycle-b");
        string q = UniqueName("q-cycle");
        await pub.ExchangeDeclareAsync(a, ExchangeType.Fanout, durable: false, autoDelete: false);
        await pub.ExchangeDeclareAsync(b, ExchangeType.Fanout, durable: false, autoDelete: false);
        var probe = await Probe.Create(conn, pub, sub, q);
        await pub.ExchangeBindAsync(b, a, "");
        await pub.ExchangeBindAsync(a, b, "");
        await pub.QueueBindAsync(q, a, "");
        await pub.QueueBindAsync(q, b, "");

        await pub.BasicPublishAsync(a, "", Body("from a"));
        await pub.BasicPublishAsync(b, "", Body("from b"));
        AssertRouted(await probe.Drain(), new() { [q] = ["from a", "from b"] });
        await pub.ExchangeDeleteAsync(a);
        await pub.ExchangeDeleteAsync(b);
    }

    [Fact]
    public async Task MandatoryUnroutableMessageIsReturnedIntactWith312()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string x = UniqueName("x-mandatory");
        await ch.ExchangeDeclareAsync(x, ExchangeType.Direct, durable: false, autoDelete: false);
        var q = (await ch.QueueDeclareAsync("", false, true, false)).QueueName;
        await ch.QueueBindAsync(q, x, "routable");

        var returns = System.Threading.Channels.Channel.CreateUnbounded<(BasicReturnEventArgs Args, byte[] Body)>();
        ch.BasicReturnAsync += (_, ea) =>
        {
            returns.Writer.TryWrite((ea, ea.Body.ToArray()));
            return Task.CompletedTask;
        };

        var props = new BasicProperties
        {
            ContentType = "application/json",
            ContentEncoding = "utf-8",
            Headers = new Dictionary<string, object?> { ["trace"] = "abc", ["n"] = 7 },
            DeliveryMode = DeliveryModes.Persistent,
            Priority = 3,
            CorrelationId = "corr-1",
            ReplyTo = "reply-here",
            Expiration = "60000",
            MessageId = "msg-1",
            Timestamp = new AmqpTimestamp(1_700_000_000),
            Type = "greeting",
            UserId = "guest",
            AppId = "e2e",
        };
        byte[] body = Enumerable.Range(0, 1000).Select(i => (byte)(i % 251)).ToArray();

        // Routable mandatory message: delivered, not returned.
        var (_, deliveries) = await ConsumeAsync(await conn.CreateChannelAsync(), q, autoAck: true);
        await ch.BasicPublishAsync(x, "routable", true, props, body);
        Assert.Equal(body, (await deliveries.NextAsync()).Body.ToArray());

        await ch.BasicPublishAsync(x, "no-such-key", true, props, body);
        using var cts = new CancellationTokenSource(Wait.Default);
        var (ret, returnedBody) = await returns.Reader.ReadAsync(cts.Token);
        Assert.Equal(312, ret.ReplyCode);
        Assert.Equal("NO_ROUTE", ret.ReplyText);
        Assert.Equal(x, ret.Exchange);
        Assert.Equal("no-such-key", ret.RoutingKey);
        Assert.Equal(body, returnedBody);
        var p = ret.BasicProperties;
        Assert.Equal("application/json", p.ContentType);
        Assert.Equal("utf-8", p.ContentEncoding);
        Assert.Equal(DeliveryModes.Persistent, p.DeliveryMode);
        Assert.Equal(3, p.Priority);
        Assert.Equal("corr-1", p.CorrelationId);
        Assert.Equal("reply-here", p.ReplyTo);
        Assert.Equal("60000", p.Expiration);
        Assert.Equal("msg-1", p.MessageId);
        Assert.Equal(1_700_000_000, p.Timestamp.UnixTime);
        Assert.Equal("greeting", p.Type);
        Assert.Equal("guest", p.UserId);
        Assert.Equal("e2e", p.AppId);
        Assert.NotNull(p.Headers);
        Assert.Equal("abc", Text((byte[])p.Headers!["trace"]!));
        Assert.Equal(7, Convert.ToInt32(p.Headers["n"]));

        // Non-mandatory unroutable: dropped silently; mandatory to the default exchange with no such queue: returned.
        await ch.BasicPublishAsync(x, "no-such-key", false, props, body);
        string missingQueue = UniqueName("q-nobody");
        await ch.BasicPublishAsync("", missingQueue, true, new BasicProperties(), Body("to nobody"));
        (ret, returnedBody) = await returns.Reader.ReadAsync(cts.Token);
        Assert.Equal(312, ret.ReplyCode);
        Assert.Equal("", ret.Exchange);
        Assert.Equal(missingQueue, ret.RoutingKey);
        Assert.Equal("to nobody", Text(returnedBody));
        Assert.True(ch.IsOpen);
        await ch.ExchangeDeleteAsync(x);
    }
}
