using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

[Collection("broker")]
public sealed class ExchangeTests
{
    private readonly BrokerFixture _broker;

    public ExchangeTests(BrokerFixture broker) => _broker = broker;

    [Theory]
    [InlineData(ExchangeType.Direct)]
    [InlineData(ExchangeType.Fanout)]
    [InlineData(ExchangeType.Topic)]
    [InlineData(ExchangeType.Headers)]
    public async Task DeclaresEachExchangeType(string type)
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string x = UniqueName("x-" + type);
        await ch.ExchangeDeclareAsync(x, type, durable: false, autoDelete: false);
        await ch.ExchangeDeclarePassiveAsync(x);

        // An identical redeclare is fine.
        await ch.ExchangeDeclareAsync(x, type, durable: false, autoDelete: false);
        await ch.ExchangeDeleteAsync(x);
        Assert.True(ch.IsOpen);
    }

    [Fact]
    public async Task PassiveDeclareOfMissingExchangeIs404()
    {
        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        ushort code = await ChannelErrorCode(ch, () => ch.ExchangeDeclarePassiveAsync(UniqueName("missing")));
        Assert.Equal(404, code);
        Assert.True(conn.IsOpen);
    }

    [Fact]
    public async Task PassiveDeclareOfExistingExchangeSucceeds()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string x = UniqueName("x-passive");
        await ch.ExchangeDeclareAsync(x, ExchangeType.Topic, durable: false, autoDelete: false);
        await ch.ExchangeDeclarePassiveAsync(x);
        await ch.ExchangeDeclarePassiveAsync("amq.direct");
        Assert.True(ch.IsOpen);
        await ch.ExchangeDeleteAsync(x);
    }

    public static TheoryData<string, string, bool, bool, Dictionary<string, object?>?> Inequivalent => new()
    {
        { "type", ExchangeType.Fanout, false, false, null },
        { "durable", ExchangeType.Direct, true, false, null },
        { "auto-delete", ExchangeType.Direct, false, true, null },
        { "arguments", ExchangeType.Direct, false, false, new Dictionary<string, object?> { ["alternate-exchange"] = "other-ae" } },
    };

    [Theory]
    [MemberData(nameof(Inequivalent))]
    public async Task InequivalentRedeclareIs406(string what, string type, bool durable, bool autoDelete, Dictionary<string, object?>? args)
    {
        await using var conn = await _broker.ConnectAsync();
        await using var setup = await conn.CreateChannelAsync();
        string x = UniqueName("x-ineq-" + what);
        await setup.ExchangeDeclareAsync(x, ExchangeType.Direct, durable: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["alternate-exchange"] = "my-ae" });

        var ch = await conn.CreateChannelAsync();
        ushort code = await ChannelErrorCode(ch, () => ch.ExchangeDeclareAsync(x, type, durable, autoDelete,
            args ?? new Dictionary<string, object?> { ["alternate-exchange"] = "my-ae" }));
        Assert.Equal(406, code);

        // The original is untouched.
        await setup.ExchangeDeclareAsync(x, ExchangeType.Direct, durable: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["alternate-exchange"] = "my-ae" });
        await setup.ExchangeDeleteAsync(x);
    }

    [Fact]
    public async Task RedeclareWithDifferentInternalFlagIs406()
    {
        string x = UniqueName("x-internal-ineq");
        Assert.Equal(RawAmqp.Ok, await RawAmqp.DeclareExchangeAsync(_broker.Port, x, "direct", @internal: true));

        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        ushort code = await ChannelErrorCode(ch, () => ch.ExchangeDeclareAsync(x, ExchangeType.Direct, durable: false, autoDelete: false));
        Assert.Equal(406, code);

        // And the other way round: an existing public exchange redeclared as internal.
        string y = UniqueName("x-public-ineq");
        await using var ch2 = await conn.CreateChannelAsync();
        await ch2.ExchangeDeclareAsync(y, ExchangeType.Direct, durable: false, autoDelete: false);
        Assert.Equal(406, await RawAmqp.DeclareExchangeAsync(_broker.Port, y, "direct", @internal: true));

        await ch2.ExchangeDeleteAsync(x);
        await ch2.ExchangeDeleteAsync(y);
    }

    [Fact]
    public async Task DeclaringAmqPrefixedExchangeIs403()
    {
        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        ushort code = await ChannelErrorCode(ch, () => ch.ExchangeDeclareAsync("amq." + UniqueName("foo"), ExchangeType.Direct));
        Assert.Equal(403, code);
    }

    [Fact]
    public async Task RedeclaringAmqDirectAsDurableDirectIsFine()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        await ch.ExchangeDeclareAsync("amq.direct", ExchangeType.Direct, durable: true, autoDelete: false);
        Assert.True(ch.IsOpen);

        // ...but as another type it is not.
        var ch2 = await conn.CreateChannelAsync();
        ushort code = await ChannelErrorCode(ch2, () => ch2.ExchangeDeclareAsync("amq.direct", ExchangeType.Fanout, durable: true, autoDelete: false));
        Assert.Equal(406, code);
    }

    [Fact]
    public async Task UnknownExchangeTypeClosesTheConnectionWith503()
    {
        var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        await Assert.ThrowsAnyAsync<OperationInterruptedException>(
            () => ch.ExchangeDeclareAsync(UniqueName("x-badtype"), "no-such-type", durable: false, autoDelete: false));
        await Wait.Until(() => !conn.IsOpen, "connection to close");
        Assert.NotNull(conn.CloseReason);
        Assert.Equal(503, conn.CloseReason!.ReplyCode);
        Assert.Equal(ShutdownInitiator.Peer, conn.CloseReason.Initiator);
        conn.Dispose();
    }

    [Fact]
    public async Task DeleteRemovesTheExchange()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string x = UniqueName("x-del");
        await ch.ExchangeDeclareAsync(x, ExchangeType.Fanout, durable: false, autoDelete: false);
        await ch.ExchangeDeleteAsync(x);

        var check = await conn.CreateChannelAsync();
        Assert.Equal(404, await ChannelErrorCode(check, () => check.ExchangeDeclarePassiveAsync(x)));

        // Publishing to it now fails too.
        var pub = await conn.CreateChannelAsync();
        Assert.Equal(404, await ChannelErrorCode(pub, async () =>
        {
            await pub.BasicPublishAsync(x, "", Body("after delete"));
            await pub.ExchangeDeclarePassiveAsync("amq.direct");
        }));
    }

    [Fact]
    public async Task DeleteOfMissingExchangeSucceeds()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        await ch.ExchangeDeleteAsync(UniqueName("never-declared"));
        await ch.ExchangeDeleteAsync(UniqueName("never-declared"), ifUnused: true);
        Assert.True(ch.IsOpen);
    }

    [Fact]
    public async Task DeleteIfUnusedWithBindingsIs406()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var setup = await conn.CreateChannelAsync();
        string x = UniqueName("x-inuse");
        var q = (await setup.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: false)).QueueName;
        await setup.ExchangeDeclareAsync(x, ExchangeType.Direct, durable: false, autoDelete: false);
        await setup.QueueBindAsync(q, x, "k");

        var ch = await conn.CreateChannelAsync();
        Assert.Equal(406, await ChannelErrorCode(ch, () => ch.ExchangeDeleteAsync(x, ifUnused: true)));
        await setup.ExchangeDeclarePassiveAsync(x);

        // Once unbound, if-unused deletion succeeds.
        await setup.QueueUnbindAsync(q, x, "k");
        await setup.ExchangeDeleteAsync(x, ifUnused: true);
        var check = await conn.CreateChannelAsync();
        Assert.Equal(404, await ChannelErrorCode(check, () => check.ExchangeDeclarePassiveAsync(x)));
    }

    [Fact]
    public async Task DeleteIfUnusedCountsExchangeToExchangeBindingsAsSource()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var setup = await conn.CreateChannelAsync();
        string src = UniqueName("x-e2e-src");
        string dst = UniqueName("x-e2e-dst");
        await setup.ExchangeDeclareAsync(src, ExchangeType.Fanout, durable: false, autoDelete: false);
        await setup.ExchangeDeclareAsync(dst, ExchangeType.Fanout, durable: false, autoDelete: false);
        await setup.ExchangeBindAsync(dst, src, "");

        var ch = await conn.CreateChannelAsync();
        Assert.Equal(406, await ChannelErrorCode(ch, () => ch.ExchangeDeleteAsync(src, ifUnused: true)));
        await setup.ExchangeDeleteAsync(src);
        await setup.ExchangeDeleteAsync(dst);
    }

    [Fact]
    public async Task DeletingAmqDirectIs403()
    {
        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        Assert.Equal(403, await ChannelErrorCode(ch, () => ch.ExchangeDeleteAsync("amq.direct")));
        await using var check = await conn.CreateChannelAsync();
        await check.ExchangeDeclarePassiveAsync("amq.direct");
    }

    public static TheoryData<string> DefaultExchangeOperations => new()
    {
        "declare", "declare-passive", "delete", "queue-bind", "queue-unbind", "exchange-bind-source", "exchange-bind-destination",
    };

    [Theory]
    [MemberData(nameof(DefaultExchangeOperations))]
    public async Task OperationsOnTheDefaultExchangeAre403(string operation)
    {
        await using var conn = await _broker.ConnectAsync();
        await using var setup = await conn.CreateChannelAsync();
        var q = (await setup.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: false)).QueueName;
        string x = UniqueName("x-default-ops");
        await setup.ExchangeDeclareAsync(x, ExchangeType.Fanout, durable: false, autoDelete: false);

        var ch = await conn.CreateChannelAsync();
        Func<Task> op = operation switch
        {
            "declare" => () => ch.ExchangeDeclareAsync("", ExchangeType.Direct, durable: true, autoDelete: false),
            "declare-passive" => () => ch.ExchangeDeclarePassiveAsync(""),
            "delete" => () => ch.ExchangeDeleteAsync(""),
            "queue-bind" => () => ch.QueueBindAsync(q, "", q),
            "queue-unbind" => () => ch.QueueUnbindAsync(q, "", q),
            "exchange-bind-source" => () => ch.ExchangeBindAsync(x, "", "k"),
            "exchange-bind-destination" => () => ch.ExchangeBindAsync("", x, "k"),
            _ => throw new ArgumentOutOfRangeException(nameof(operation)),
        };
        Assert.Equal(403, await ChannelErrorCode(ch, op));
        Assert.True(conn.IsOpen);
        await setup.ExchangeDeleteAsync(x);
    }

    [Fact]
    public async Task PublishingToAnInternalExchangeIs403()
    {
        string x = UniqueName("x-internal");
        Assert.Equal(RawAmqp.Ok, await RawAmqp.DeclareExchangeAsync(_broker.Port, x, "fanout", @internal: true));

        await using var conn = await _broker.ConnectAsync();
        await using var setup = await conn.CreateChannelAsync();
        await setup.ExchangeDeclarePassiveAsync(x);

        var ch = await conn.CreateChannelAsync();
        Assert.Equal(403, await ChannelErrorCode(ch, async () =>
        {
            await ch.BasicPublishAsync(x, "", Body("to internal"));
            await ch.ExchangeDeclarePassiveAsync("amq.direct");
        }));
        await setup.ExchangeDeleteAsync(x);
    }

    [Fact]
    public async Task InternalExchangeStillRoutesAsADestination()
    {
        string inner = UniqueName("x-internal-dst");
        Assert.Equal(RawAmqp.Ok, await RawAmqp.DeclareExchangeAsync(_broker.Port, inner, "fanout", @internal: true));

        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string outer = UniqueName("x-public-src");
        await ch.ExchangeDeclareAsync(outer, ExchangeType.Fanout, durable: false, autoDelete: false);
        var q = (await ch.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: false)).QueueName;
        await ch.QueueBindAsync(q, inner, "");
        await ch.ExchangeBindAsync(inner, outer, "");

        await using var consumeCh = await conn.CreateChannelAsync();
        var (_, deliveries) = await ConsumeAsync(consumeCh, q, autoAck: true);
        await ch.BasicPublishAsync(outer, "any", Body("via internal"));
        var d = await deliveries.NextAsync();
        Assert.Equal("via internal", Text(d.Body));
        Assert.Equal(outer, d.Exchange);

        await ch.ExchangeDeleteAsync(outer);
        await ch.ExchangeDeleteAsync(inner);
    }

    [Fact]
    public async Task PublishingToAMissingExchangeIs404()
    {
        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        Assert.Equal(404, await ChannelErrorCode(ch, async () =>
        {
            await ch.BasicPublishAsync(UniqueName("x-missing"), "k", Body("lost"));
            await ch.ExchangeDeclarePassiveAsync("amq.direct");
        }));
        Assert.True(conn.IsOpen);
    }

    [Fact]
    public async Task ExchangeToExchangeBindingRoutesUntilUnbound()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string src = UniqueName("x-src");
        string dst = UniqueName("x-dst");
        await ch.ExchangeDeclareAsync(src, ExchangeType.Topic, durable: false, autoDelete: false);
        await ch.ExchangeDeclareAsync(dst, ExchangeType.Direct, durable: false, autoDelete: false);
        var q = (await ch.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: false)).QueueName;
        await ch.QueueBindAsync(q, dst, "orders.new");
        await ch.ExchangeBindAsync(dst, src, "orders.*");

        await using var consumeCh = await conn.CreateChannelAsync();
        var (_, deliveries) = await ConsumeAsync(consumeCh, q, autoAck: true);

        // Matches the e2e binding but not the queue binding on the destination: dropped.
        await ch.BasicPublishAsync(src, "orders.old", Body("filtered by dst"));
        // Does not match the e2e binding at all: dropped.
        await ch.BasicPublishAsync(src, "invoices.new", Body("filtered by src"));
        await ch.BasicPublishAsync(src, "orders.new", Body("routed"));
        var d = await deliveries.NextAsync();
        Assert.Equal("routed", Text(d.Body));
        Assert.Equal(src, d.Exchange);
        Assert.Equal("orders.new", d.RoutingKey);

        await ch.ExchangeUnbindAsync(dst, src, "orders.*");
        await ch.BasicPublishAsync(src, "orders.new", Body("after unbind"));
        // Same channel, same queue: the marker arrives after anything published before it.
        await ch.BasicPublishAsync("", q, Body("marker"));
        Assert.Equal("marker", Text((await deliveries.NextAsync()).Body));

        // Publishing to the destination directly still works.
        await ch.BasicPublishAsync(dst, "orders.new", Body("direct to dst"));
        Assert.Equal("direct to dst", Text((await deliveries.NextAsync()).Body));

        await ch.ExchangeDeleteAsync(src);
        await ch.ExchangeDeleteAsync(dst);
    }

    [Fact]
    public async Task DeletingTheDestinationExchangeRemovesTheBinding()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string src = UniqueName("x-src2");
        string dst = UniqueName("x-dst2");
        await ch.ExchangeDeclareAsync(src, ExchangeType.Fanout, durable: false, autoDelete: false);
        await ch.ExchangeDeclareAsync(dst, ExchangeType.Fanout, durable: false, autoDelete: false);
        await ch.ExchangeBindAsync(dst, src, "");
        await ch.ExchangeDeleteAsync(dst);

        // The source has no bindings left, so if-unused deletion is allowed.
        await ch.ExchangeDeleteAsync(src, ifUnused: true);
        var check = await conn.CreateChannelAsync();
        Assert.Equal(404, await ChannelErrorCode(check, () => check.ExchangeDeclarePassiveAsync(src)));
    }

    [Theory]
    [InlineData("source")]
    [InlineData("destination")]
    public async Task ExchangeBindToMissingExchangeIs404(string missing)
    {
        await using var conn = await _broker.ConnectAsync();
        await using var setup = await conn.CreateChannelAsync();
        string present = UniqueName("x-present");
        string absent = UniqueName("x-absent");
        await setup.ExchangeDeclareAsync(present, ExchangeType.Fanout, durable: false, autoDelete: false);

        var ch = await conn.CreateChannelAsync();
        Func<Task> op = missing == "source"
            ? () => ch.ExchangeBindAsync(present, absent, "")
            : () => ch.ExchangeBindAsync(absent, present, "");
        Assert.Equal(404, await ChannelErrorCode(ch, op));
        await setup.ExchangeDeleteAsync(present);
    }

    [Fact]
    public async Task QueueBindToMissingExchangeIs404()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var setup = await conn.CreateChannelAsync();
        var q = (await setup.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: false)).QueueName;
        var ch = await conn.CreateChannelAsync();
        Assert.Equal(404, await ChannelErrorCode(ch, () => ch.QueueBindAsync(q, UniqueName("x-absent"), "k")));
    }

    [Fact]
    public async Task AutoDeleteExchangeGoesWhenItsLastBindingIsRemoved()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string x = UniqueName("x-autodel");
        await ch.ExchangeDeclareAsync(x, ExchangeType.Direct, durable: false, autoDelete: true);
        var q = (await ch.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: false)).QueueName;

        // Never bound: it stays.
        await ch.ExchangeDeclarePassiveAsync(x);

        await ch.QueueBindAsync(q, x, "a");
        await ch.QueueBindAsync(q, x, "b");
        await ch.QueueUnbindAsync(q, x, "a");

        // One binding left: still there.
        await ch.ExchangeDeclarePassiveAsync(x);

        await ch.QueueUnbindAsync(q, x, "b");
        var check = await conn.CreateChannelAsync();
        Assert.Equal(404, await ChannelErrorCode(check, () => check.ExchangeDeclarePassiveAsync(x)));
    }

    [Fact]
    public async Task AutoDeleteExchangeGoesWhenItsLastDestinationQueueIsDeleted()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string x = UniqueName("x-autodel-q");
        string q = UniqueName("q-autodel-x");
        await ch.ExchangeDeclareAsync(x, ExchangeType.Fanout, durable: false, autoDelete: true);
        await ch.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: false);
        await ch.QueueBindAsync(q, x, "");
        await ch.QueueDeleteAsync(q);

        await Eventually.NotFound(conn, c => c.ExchangeDeclarePassiveAsync(x), "auto-delete exchange to go");
    }

    [Fact]
    public async Task AutoDeleteExchangeGoesWhenItsLastExchangeBindingIsRemoved()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string src = UniqueName("x-autodel-src");
        string dst = UniqueName("x-plain-dst");
        await ch.ExchangeDeclareAsync(src, ExchangeType.Fanout, durable: false, autoDelete: true);
        await ch.ExchangeDeclareAsync(dst, ExchangeType.Fanout, durable: false, autoDelete: false);
        await ch.ExchangeBindAsync(dst, src, "");
        await ch.ExchangeUnbindAsync(dst, src, "");

        var check = await conn.CreateChannelAsync();
        Assert.Equal(404, await ChannelErrorCode(check, () => check.ExchangeDeclarePassiveAsync(src)));

        // The destination was not auto-delete and stays.
        await ch.ExchangeDeclarePassiveAsync(dst);
        await ch.ExchangeDeleteAsync(dst);
    }
}

/// <summary>Bounded polling for an entity to disappear (each check uses a fresh channel since a 404 closes it).</summary>
internal static class Eventually
{
    public static async Task NotFound(IConnection conn, Func<IChannel, Task> passiveCheck, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Wait.Default);
        while (true)
        {
            var ch = await conn.CreateChannelAsync();
            try
            {
                await passiveCheck(ch);
            }
            catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 404)
            {
                return;
            }

            await ch.CloseAsync();
            ch.Dispose();
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(20);
        }
    }

    public static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Wait.Default);
        while (true)
        {
            var value = await probe();
            if (condition(value))
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what} (last value {value})");
            }

            await Task.Delay(20);
        }
    }
}

/// <summary>
/// A minimal hand-written AMQP 0-9-1 client, only for what RabbitMQ.Client cannot send: exchange.declare
/// with the internal bit set (the .NET client always sends internal=false).
/// </summary>
internal static class RawAmqp
{
    public const ushort Ok = 0;

    /// <summary>Declares an exchange on its own connection; answers 0 for declare-ok or the channel.close reply code.</summary>
    public static async Task<ushort> DeclareExchangeAsync(int port, string name, string type, bool durable = false,
        bool autoDelete = false, bool @internal = false)
    {
        using var cts = new CancellationTokenSource(Wait.Default);
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port, cts.Token);
        var s = client.GetStream();
        await s.WriteAsync("AMQP\x00\x00\x09\x01"u8.ToArray(), cts.Token);

        await Expect(s, 0, 10, 10, cts.Token); // connection.start
        var startOk = new Args().Short(10).Short(11).EmptyTable().ShortStr("PLAIN").LongStr("\0guest\0guest").ShortStr("en_US");
        await Send(s, 0, startOk, cts.Token);
        var tune = await Expect(s, 0, 10, 30, cts.Token);
        ushort channelMax = BinaryPrimitives.ReadUInt16BigEndian(tune.AsSpan(4));
        uint frameMax = BinaryPrimitives.ReadUInt32BigEndian(tune.AsSpan(6));
        await Send(s, 0, new Args().Short(10).Short(31).Short(channelMax).Long(frameMax).Short(0), cts.Token);
        await Send(s, 0, new Args().Short(10).Short(40).ShortStr("/").ShortStr("").Byte(0), cts.Token);
        await Expect(s, 0, 10, 41, cts.Token);
        await Send(s, 1, new Args().Short(20).Short(10).ShortStr(""), cts.Token);
        await Expect(s, 1, 20, 11, cts.Token);

        byte bits = (byte)((durable ? 2 : 0) | (autoDelete ? 4 : 0) | (@internal ? 8 : 0));
        await Send(s, 1, new Args().Short(40).Short(10).Short(0).ShortStr(name).ShortStr(type).Byte(bits).EmptyTable(), cts.Token);
        var reply = await ReadMethod(s, cts.Token);
        ushort result;
        if (reply.Class == 40 && reply.Method == 11)
        {
            result = Ok;
        }
        else if (reply.Class == 20 && reply.Method == 40)
        {
            result = BinaryPrimitives.ReadUInt16BigEndian(reply.Payload.AsSpan(4));
            await Send(s, 1, new Args().Short(20).Short(41), cts.Token);
        }
        else if (reply.Class == 10 && reply.Method == 50)
        {
            return BinaryPrimitives.ReadUInt16BigEndian(reply.Payload.AsSpan(4));
        }
        else
        {
            throw new InvalidOperationException($"unexpected method {reply.Class}.{reply.Method}");
        }

        await Send(s, 0, new Args().Short(10).Short(50).Short(200).ShortStr("bye").Short(0).Short(0), cts.Token);
        await Expect(s, 0, 10, 51, cts.Token);
        return result;
    }

    private static async Task<byte[]> Expect(NetworkStream s, ushort channel, ushort cls, ushort method, CancellationToken ct)
    {
        var m = await ReadMethod(s, ct);
        if (m.Channel != channel || m.Class != cls || m.Method != method)
        {
            throw new InvalidOperationException($"expected {cls}.{method} on channel {channel}, got {m.Class}.{m.Method} on {m.Channel}");
        }

        return m.Payload;
    }

    private static async Task<(ushort Channel, ushort Class, ushort Method, byte[] Payload)> ReadMethod(NetworkStream s, CancellationToken ct)
    {
        while (true)
        {
            var header = new byte[7];
            await s.ReadExactlyAsync(header, ct);
            uint size = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(3));
            var payload = new byte[size + 1];
            await s.ReadExactlyAsync(payload, ct);
            if (header[0] != 1)
            {
                continue; // heartbeats and anything else
            }

            ushort channel = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(1));
            return (channel, BinaryPrimitives.ReadUInt16BigEndian(payload), BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(2)), payload[..^1]);
        }
    }

    private static async Task Send(NetworkStream s, ushort channel, Args payload, CancellationToken ct)
    {
        var body = payload.ToArray();
        var frame = new byte[7 + body.Length + 1];
        frame[0] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(1), channel);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(3), (uint)body.Length);
        body.CopyTo(frame, 7);
        frame[^1] = 0xCE;
        await s.WriteAsync(frame, ct);
    }

    private sealed class Args
    {
        private readonly MemoryStream _ms = new();

        public Args Byte(byte b)
        {
            _ms.WriteByte(b);
            return this;
        }

        public Args Short(ushort v)
        {
            Span<byte> b = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(b, v);
            _ms.Write(b);
            return this;
        }

        public Args Long(uint v)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(b, v);
            _ms.Write(b);
            return this;
        }

        public Args ShortStr(string v)
        {
            var bytes = Encoding.UTF8.GetBytes(v);
            _ms.WriteByte((byte)bytes.Length);
            _ms.Write(bytes);
            return this;
        }

        public Args LongStr(string v)
        {
            var bytes = Encoding.UTF8.GetBytes(v);
            Long((uint)bytes.Length);
            _ms.Write(bytes);
            return this;
        }

        public Args EmptyTable() => Long(0);

        public byte[] ToArray() => _ms.ToArray();
    }
}
