using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

[Collection("broker")]
public sealed class QueueTests
{
    private readonly BrokerFixture _broker;

    public QueueTests(BrokerFixture broker) => _broker = broker;

    private static Task<IChannel> ConfirmChannel(IConnection conn) =>
        conn.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));

    /// <summary>Publishes n messages to a queue through the default exchange and waits for their confirms.</summary>
    private static async Task PublishConfirmed(IConnection conn, string queue, int n)
    {
        await using var ch = await ConfirmChannel(conn);
        for (int i = 0; i < n; i++)
        {
            await ch.BasicPublishAsync("", queue, true, new BasicProperties(), Body("m" + i));
        }
    }

    [Fact]
    public async Task DeclareReturnsMessageAndConsumerCounts()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string q = UniqueName("q-counts");
        var ok = await ch.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: false);
        Assert.Equal(q, ok.QueueName);
        Assert.Equal(0u, ok.MessageCount);
        Assert.Equal(0u, ok.ConsumerCount);

        await PublishConfirmed(conn, q, 3);
        ok = await ch.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: false);
        Assert.Equal(3u, ok.MessageCount);
        Assert.Equal(0u, ok.ConsumerCount);
        var passive = await ch.QueueDeclarePassiveAsync(q);
        Assert.Equal(3u, passive.MessageCount);
        Assert.Equal(0u, passive.ConsumerCount);
        Assert.Equal(3u, await ch.MessageCountAsync(q));

        // Two consumers (one per channel) take the messages: ready count drops, consumer count rises.
        await using var c1 = await conn.CreateChannelAsync();
        await using var c2 = await conn.CreateChannelAsync();
        var (_, d1) = await ConsumeAsync(c1, q, autoAck: false);
        await ConsumeAsync(c2, q, autoAck: false);
        await d1.NextAsync();
        ok = await Eventually.Until(() => ch.QueueDeclarePassiveAsync(q), r => r.MessageCount == 0, "messages to be delivered");
        Assert.Equal(2u, ok.ConsumerCount);
        Assert.Equal(2u, await ch.ConsumerCountAsync(q));
        await ch.QueueDeleteAsync(q);
    }

    [Fact]
    public async Task ServerNamedQueueStartsWithAmqGen()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        var ok = await ch.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true);
        Assert.StartsWith("amq.gen-", ok.QueueName);
        Assert.True(ok.QueueName.Length > "amq.gen-".Length);
        Assert.Equal(0u, ok.MessageCount);

        var other = await ch.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true);
        Assert.NotEqual(ok.QueueName, other.QueueName);

        // It is a real queue: passive declare and routing by its name work.
        await ch.QueueDeclarePassiveAsync(ok.QueueName);
        await ch.BasicPublishAsync("", ok.QueueName, Body("to server-named"));
        var got = await Eventually.Until(() => ch.BasicGetAsync(ok.QueueName, autoAck: true), r => r is not null, "message in server-named queue");
        Assert.Equal("to server-named", Text(got!.Body));
    }

    [Fact]
    public async Task PassiveDeclareOfMissingQueueIs404()
    {
        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        Assert.Equal(404, await ChannelErrorCode(ch, () => ch.QueueDeclarePassiveAsync(UniqueName("q-missing"))));
        Assert.True(conn.IsOpen);
    }

    public static TheoryData<string, bool, bool, Dictionary<string, object?>?> Inequivalent => new()
    {
        { "durable", true, false, null },
        { "auto-delete", false, true, null },
        { "argument-value", false, false, new Dictionary<string, object?> { ["x-max-length"] = 20 } },
        { "argument-missing", false, false, new Dictionary<string, object?>() },
        { "argument-extra", false, false, new Dictionary<string, object?> { ["x-max-length"] = 10, ["x-message-ttl"] = 60000 } },
        { "queue-type", false, false, new Dictionary<string, object?> { ["x-max-length"] = 10, ["x-queue-type"] = "quorum" } },
    };

    [Theory]
    [MemberData(nameof(Inequivalent))]
    public async Task InequivalentRedeclareIs406(string what, bool durable, bool autoDelete, Dictionary<string, object?>? args)
    {
        await using var conn = await _broker.ConnectAsync();
        await using var setup = await conn.CreateChannelAsync();
        string q = UniqueName("q-ineq-" + what);
        var original = new Dictionary<string, object?> { ["x-max-length"] = 10 };
        await setup.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: false, arguments: original);

        var ch = await conn.CreateChannelAsync();
        Assert.Equal(406, await ChannelErrorCode(ch, () => ch.QueueDeclareAsync(q, durable, exclusive: false, autoDelete, args ?? original)));

        // An equivalent redeclare still works.
        await setup.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: false, arguments: original);
        await setup.QueueDeleteAsync(q);
    }

    [Fact]
    public async Task AmqPrefixedQueueNameIs403()
    {
        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        Assert.Equal(403, await ChannelErrorCode(ch, () => ch.QueueDeclareAsync("amq." + UniqueName("q"), false, false, false)));
    }

    public static TheoryData<string> ExclusiveOperations => new()
    {
        "declare", "declare-passive", "consume", "bind", "unbind", "purge", "delete", "get",
    };

    [Theory]
    [MemberData(nameof(ExclusiveOperations))]
    public async Task ExclusiveQueueFromAnotherConnectionIs405(string operation)
    {
        await using var owner = await _broker.ConnectAsync();
        await using var ownerCh = await owner.CreateChannelAsync();
        string q = UniqueName("q-excl-" + operation);
        await ownerCh.QueueDeclareAsync(q, durable: false, exclusive: true, autoDelete: false);
        await ownerCh.QueueBindAsync(q, "amq.direct", q);

        await using var other = await _broker.ConnectAsync();
        var ch = await other.CreateChannelAsync();
        Func<Task> op = operation switch
        {
            "declare" => () => ch.QueueDeclareAsync(q, durable: false, exclusive: true, autoDelete: false),
            "declare-passive" => () => ch.QueueDeclarePassiveAsync(q),
            "consume" => () => ConsumeAsync(ch, q),
            "bind" => () => ch.QueueBindAsync(q, "amq.fanout", ""),
            "unbind" => () => ch.QueueUnbindAsync(q, "amq.direct", q),
            "purge" => () => ch.QueuePurgeAsync(q),
            "delete" => () => ch.QueueDeleteAsync(q),
            "get" => () => ch.BasicGetAsync(q, autoAck: true),
            _ => throw new ArgumentOutOfRangeException(nameof(operation)),
        };
        Assert.Equal(405, await ChannelErrorCode(ch, op));
        Assert.True(other.IsOpen);

        // The owner still has it, and from any of its channels.
        await using var ownerCh2 = await owner.CreateChannelAsync();
        await ownerCh2.QueueDeclarePassiveAsync(q);
        await ownerCh2.QueuePurgeAsync(q);
    }

    [Fact]
    public async Task ExclusiveQueueGoesWhenItsConnectionCloses()
    {
        await using var observer = await _broker.ConnectAsync();
        string q = UniqueName("q-excl-gone");
        var owner = await _broker.ConnectAsync();
        var ownerCh = await owner.CreateChannelAsync();
        await ownerCh.QueueDeclareAsync(q, durable: false, exclusive: true, autoDelete: false);
        await ownerCh.QueueBindAsync(q, "amq.direct", q);
        await ownerCh.BasicPublishAsync("", q, Body("left behind"));
        await owner.CloseAsync();
        owner.Dispose();

        await Eventually.NotFound(observer, c => c.QueueDeclarePassiveAsync(q), "exclusive queue to go");

        // Its name is free again, and the old binding went with it.
        await using var ch = await observer.CreateChannelAsync();
        var ok = await ch.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: false);
        Assert.Equal(0u, ok.MessageCount);
        await ch.BasicPublishAsync("amq.direct", q, Body("via old binding"));
        await ch.BasicPublishAsync("", q, Body("marker"));
        var got = await Eventually.Until(() => ch.BasicGetAsync(q, autoAck: true), r => r is not null, "marker");
        Assert.Equal("marker", Text(got!.Body));
        await ch.QueueDeleteAsync(q);
    }

    [Fact]
    public async Task AutoDeleteQueueGoesAfterItsLastConsumerCancels()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string q = UniqueName("q-autodel");
        await ch.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: true);

        // Never consumed from: it stays.
        await ch.QueueDeclarePassiveAsync(q);

        await using var consumeCh = await conn.CreateChannelAsync();
        var (tag1, _) = await ConsumeAsync(consumeCh, q);
        var (tag2, _) = await ConsumeAsync(consumeCh, q);
        await consumeCh.BasicCancelAsync(tag1);

        // One consumer left: still there.
        var ok = await ch.QueueDeclarePassiveAsync(q);
        Assert.Equal(1u, ok.ConsumerCount);

        await consumeCh.BasicCancelAsync(tag2);
        await Eventually.NotFound(conn, c => c.QueueDeclarePassiveAsync(q), "auto-delete queue to go");
    }

    [Fact]
    public async Task AutoDeleteQueueGoesWhenItsConsumersChannelCloses()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string q = UniqueName("q-autodel-ch");
        await ch.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: true);
        var consumeCh = await conn.CreateChannelAsync();
        await ConsumeAsync(consumeCh, q);
        await consumeCh.CloseAsync();
        await Eventually.NotFound(conn, c => c.QueueDeclarePassiveAsync(q), "auto-delete queue to go");
    }

    [Fact]
    public async Task PurgeReturnsTheCount()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string q = UniqueName("q-purge");
        await ch.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: false);
        await PublishConfirmed(conn, q, 4);
        Assert.Equal(4u, await ch.QueuePurgeAsync(q));
        Assert.Equal(0u, (await ch.QueueDeclarePassiveAsync(q)).MessageCount);
        Assert.Equal(0u, await ch.QueuePurgeAsync(q));
        await ch.QueueDeleteAsync(q);
    }

    [Fact]
    public async Task DeleteReturnsTheCount()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string q = UniqueName("q-delete");
        await ch.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: false);
        await PublishConfirmed(conn, q, 5);
        Assert.Equal(5u, await ch.QueueDeleteAsync(q));

        var check = await conn.CreateChannelAsync();
        Assert.Equal(404, await ChannelErrorCode(check, () => check.QueueDeclarePassiveAsync(q)));
    }

    [Fact]
    public async Task DeleteIfUnusedWithAConsumerIs406()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var setup = await conn.CreateChannelAsync();
        string q = UniqueName("q-ifunused");
        await setup.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: false);
        await using var consumeCh = await conn.CreateChannelAsync();
        var (tag, _) = await ConsumeAsync(consumeCh, q);

        var ch = await conn.CreateChannelAsync();
        Assert.Equal(406, await ChannelErrorCode(ch, () => ch.QueueDeleteAsync(q, ifUnused: true, ifEmpty: false)));
        Assert.Equal(1u, (await setup.QueueDeclarePassiveAsync(q)).ConsumerCount);

        await consumeCh.BasicCancelAsync(tag);
        Assert.Equal(0u, await setup.QueueDeleteAsync(q, ifUnused: true, ifEmpty: false));
    }

    [Fact]
    public async Task DeleteIfEmptyWithMessagesIs406()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var setup = await conn.CreateChannelAsync();
        string q = UniqueName("q-ifempty");
        await setup.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: false);
        await PublishConfirmed(conn, q, 2);

        var ch = await conn.CreateChannelAsync();
        Assert.Equal(406, await ChannelErrorCode(ch, () => ch.QueueDeleteAsync(q, ifUnused: false, ifEmpty: true)));
        Assert.Equal(2u, (await setup.QueueDeclarePassiveAsync(q)).MessageCount);

        await setup.QueuePurgeAsync(q);
        Assert.Equal(0u, await setup.QueueDeleteAsync(q, ifUnused: false, ifEmpty: true));
    }

    [Fact]
    public async Task DeleteOfMissingQueueSucceedsWithZero()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        Assert.Equal(0u, await ch.QueueDeleteAsync(UniqueName("q-never")));
        Assert.Equal(0u, await ch.QueueDeleteAsync(UniqueName("q-never"), ifUnused: true, ifEmpty: true));
        Assert.True(ch.IsOpen);
    }

    [Fact]
    public async Task BindAndUnbindControlRouting()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string x = UniqueName("x-qbind");
        string q = UniqueName("q-bind");
        await ch.ExchangeDeclareAsync(x, ExchangeType.Direct, durable: false, autoDelete: false);
        await ch.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: false);
        await ch.QueueBindAsync(q, x, "k");

        // Binding twice is idempotent: still one delivery.
        await ch.QueueBindAsync(q, x, "k");

        await using var consumeCh = await conn.CreateChannelAsync();
        var (_, deliveries) = await ConsumeAsync(consumeCh, q, autoAck: true);
        await ch.BasicPublishAsync(x, "k", Body("bound"));
        await ch.BasicPublishAsync(x, "other", Body("wrong key"));
        await ch.BasicPublishAsync("", q, Body("marker1"));
        Assert.Equal("bound", Text((await deliveries.NextAsync()).Body));
        Assert.Equal("marker1", Text((await deliveries.NextAsync()).Body));

        await ch.QueueUnbindAsync(q, x, "k");
        await ch.BasicPublishAsync(x, "k", Body("after unbind"));
        await ch.BasicPublishAsync("", q, Body("marker2"));
        Assert.Equal("marker2", Text((await deliveries.NextAsync()).Body));

        // Unbinding a binding that does not exist is fine.
        await ch.QueueUnbindAsync(q, x, "never-bound");
        Assert.True(ch.IsOpen);

        await ch.QueueDeleteAsync(q);
        await ch.ExchangeDeleteAsync(x);
    }

    [Fact]
    public async Task BindingAMissingQueueIs404()
    {
        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        Assert.Equal(404, await ChannelErrorCode(ch, () => ch.QueueBindAsync(UniqueName("q-absent"), "amq.direct", "k")));
    }

    [Fact]
    public async Task UnbindingAMissingQueueOrFromAMissingExchangeSucceeds()
    {
        // RabbitMQ treats queue.unbind as idempotent: nothing to remove is not an error.
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        await ch.QueueUnbindAsync(UniqueName("q-absent"), "amq.direct", "k");
        var q = (await ch.QueueDeclareAsync("", false, true, false)).QueueName;
        await ch.QueueUnbindAsync(q, UniqueName("x-absent"), "k");
        Assert.True(ch.IsOpen);
        await ch.QueueDeclarePassiveAsync(q);
    }

    [Theory]
    [InlineData("classic", false)]
    [InlineData("classic", true)]
    [InlineData("quorum", true)]
    public async Task SupportedQueueTypesAreAccepted(string type, bool durable)
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string q = UniqueName("q-type-" + type);
        var args = new Dictionary<string, object?> { ["x-queue-type"] = type };
        var ok = await ch.QueueDeclareAsync(q, durable, exclusive: false, autoDelete: false, arguments: args);
        Assert.Equal(q, ok.QueueName);

        // Redeclaring with the same type is fine; and it works as a queue.
        await ch.QueueDeclareAsync(q, durable, exclusive: false, autoDelete: false, arguments: args);
        await PublishConfirmed(conn, q, 1);
        var got = await ch.BasicGetAsync(q, autoAck: true);
        Assert.NotNull(got);
        Assert.Equal("m0", Text(got!.Body));
        await ch.QueueDeleteAsync(q);
    }

    [Fact]
    public async Task ClassicQueueRedeclaredWithoutTypeArgumentIsEquivalent()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string q = UniqueName("q-type-implicit");
        await ch.QueueDeclareAsync(q, false, false, false, new Dictionary<string, object?> { ["x-queue-type"] = "classic" });
        await ch.QueueDeclareAsync(q, false, false, false);
        await ch.QueueDeleteAsync(q);
    }

    [Theory]
    [InlineData("non-durable", false, false, false)]
    [InlineData("exclusive", true, true, false)]
    [InlineData("auto-delete", true, false, true)]
    public async Task QuorumQueueWithInvalidPropertiesIs406(string what, bool durable, bool exclusive, bool autoDelete)
    {
        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        string q = UniqueName("q-quorum-" + what);
        Assert.Equal(406, await ChannelErrorCode(ch, () => ch.QueueDeclareAsync(q, durable, exclusive, autoDelete,
            new Dictionary<string, object?> { ["x-queue-type"] = "quorum" })));

        var check = await conn.CreateChannelAsync();
        Assert.Equal(404, await ChannelErrorCode(check, () => check.QueueDeclarePassiveAsync(q)));
    }

    [Theory]
    [InlineData("stream")]
    [InlineData("no-such-type")]
    public async Task UnsupportedQueueTypeIs406(string type)
    {
        // This broker implements classic and quorum queues only. (RabbitMQ 3.10 itself accepts a durable
        // "stream" queue; any type a broker does not implement must be refused with 406 rather than
        // silently created as a classic queue.)
        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        string q = UniqueName("q-type-bad");
        Assert.Equal(406, await ChannelErrorCode(ch, () => ch.QueueDeclareAsync(q, durable: true, exclusive: false, autoDelete: false,
            new Dictionary<string, object?> { ["x-queue-type"] = type })));
    }

    [Fact]
    public async Task DeletingAQueueRemovesItsBindings()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string x = UniqueName("x-qdel");
        string q = UniqueName("q-rebind");
        await ch.ExchangeDeclareAsync(x, ExchangeType.Direct, durable: false, autoDelete: false);
        await ch.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: false);
        await ch.QueueBindAsync(q, x, "k");
        await ch.QueueDeleteAsync(q);

        // The exchange lost its only binding: if-unused deletion would now be allowed (checked below).
        await ch.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: false);
        await using var consumeCh = await conn.CreateChannelAsync();
        var (_, deliveries) = await ConsumeAsync(consumeCh, q, autoAck: true);
        await ch.BasicPublishAsync(x, "k", Body("via old binding"));
        await ch.BasicPublishAsync("", q, Body("marker"));
        Assert.Equal("marker", Text((await deliveries.NextAsync()).Body));

        await ch.ExchangeDeleteAsync(x, ifUnused: true);
        await ch.QueueDeleteAsync(q);
    }
}
