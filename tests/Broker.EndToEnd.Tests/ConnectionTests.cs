using System.Net.Sockets;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Broker.EndToEnd.Tests;

[Collection("broker")]
public sealed class ConnectionTests
{
    private readonly BrokerFixture _broker;

    public ConnectionTests(BrokerFixture broker) => _broker = broker;

    [Fact]
    public async Task ServerPropertiesAnnounceProductAndCapabilities()
    {
        await using var conn = await _broker.ConnectAsync();
        var props = conn.ServerProperties!;
        Assert.Equal("Broker", ClientHelpers.Text((byte[])props["product"]!));
        var caps = (IDictionary<string, object?>)props["capabilities"]!;
        foreach (var cap in new[] { "publisher_confirms", "exchange_exchange_bindings", "basic.nack", "consumer_cancel_notify", "authentication_failure_close", "per_consumer_qos" })
        {
            Assert.Equal(true, caps[cap]);
        }
    }

    [Fact]
    public async Task WrongPasswordIsRefusedWith403()
    {
        var ex = await ClientHelpers.ConnectFailure<AuthenticationFailureException>(_broker.Factory("guest", "nope"));
        Assert.Contains("ACCESS_REFUSED", ex.Message);
    }

    [Fact]
    public async Task UnknownUserIsRefused()
    {
        var ex = await ClientHelpers.ConnectFailure<AuthenticationFailureException>(_broker.Factory("nobody", "guest"));
        Assert.Contains("ACCESS_REFUSED", ex.Message);
    }

    [Fact]
    public async Task ALoopbackNodeAlsoListensOnIpv6LoopbackForClientsThatResolveLocalhostThere()
    {
        // The node binds 127.0.0.1 (the default); "localhost" resolves to ::1 first for many clients.
        var f = _broker.Factory();
        f.HostName = "::1";
        await using var conn = await f.CreateConnectionAsync();
        await using var ch = await conn.CreateChannelAsync();
        await ch.QueueDeclareAsync("", exclusive: true);
    }

    [Fact]
    public async Task UnknownVhostIsRefusedWith530()
    {
        // A raw handshake: RabbitMQ.Client now and then loses the close that refuses connection.open
        // and waits out its handshake timeout instead.
        var reason = Assert.IsType<Broker.Protocol.Methods.ConnectionClose>(await RawAmqpClient.OpenReplyAsync(_broker.Port, "no-such-vhost"));
        Assert.Equal(530, reason.ReplyCode);
        Assert.Contains("vhost no-such-vhost not found", reason.ReplyText);
    }

    [Fact]
    public async Task WrongProtocolHeaderGetsTheSupportedHeaderAndClose()
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", _broker.Port);
        var stream = client.GetStream();
        await stream.WriteAsync("AMQP\x00\x00\x09\x00"u8.ToArray());
        var reply = await ReadToEnd(stream);
        Assert.Equal(new byte[] { (byte)'A', (byte)'M', (byte)'Q', (byte)'P', 0, 0, 9, 1 }, reply);
    }

    [Fact]
    public async Task HttpRequestGetsTheProtocolHeaderAndClose()
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", _broker.Port);
        var stream = client.GetStream();
        await stream.WriteAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
        var reply = await ReadToEnd(stream);
        Assert.Equal("AMQP\x00\x00\x09\x01"u8.ToArray(), reply);
    }

    [Fact]
    public async Task ClientCloseIsAnsweredAndChannelsGo()
    {
        var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        await conn.CloseAsync();
        Assert.False(conn.IsOpen);
        Assert.True(ch.IsClosed);
        Assert.Equal(200, conn.CloseReason!.ReplyCode);
    }

    [Fact]
    public async Task AConnectionErrorClosesTheConnectionButOthersLiveOn()
    {
        await using var bystander = await _broker.ConnectAsync();
        await using var bystanderCh = await bystander.CreateChannelAsync();
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        // An unknown exchange type is a connection error (503 COMMAND_INVALID), as in RabbitMQ.
        var ex = await Assert.ThrowsAnyAsync<OperationInterruptedException>(
            () => ch.ExchangeDeclareAsync(ClientHelpers.UniqueName("x"), "no-such-type"));
        Assert.Equal(503, ex.ShutdownReason!.ReplyCode);
        await Wait.Until(() => !conn.IsOpen, "connection to close");
        var q = await bystanderCh.QueueDeclareAsync(ClientHelpers.UniqueName("q"), exclusive: true);
        Assert.StartsWith("q-", q.QueueName);
    }

    [Fact]
    public async Task ReusedConsumerTagIsAConnectionError530()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        var q = await ch.QueueDeclareAsync("", exclusive: true);
        await ClientHelpers.ConsumeAsync(ch, q.QueueName, tag: "same-tag");
        var ex = await Assert.ThrowsAnyAsync<OperationInterruptedException>(
            () => ClientHelpers.ConsumeAsync(ch, q.QueueName, tag: "same-tag"));
        Assert.Equal(530, ex.ShutdownReason!.ReplyCode);
        await Wait.Until(() => !conn.IsOpen, "connection to close");
    }

    [Fact]
    public async Task ChannelErrorLeavesTheConnectionUsable()
    {
        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        ushort code = await ClientHelpers.ChannelErrorCode(ch, () => ch.QueueDeclarePassiveAsync(ClientHelpers.UniqueName("missing")));
        Assert.Equal(404, code);
        Assert.True(conn.IsOpen);
        await using var ch2 = await conn.CreateChannelAsync();
        var q = await ch2.QueueDeclareAsync("", exclusive: true);
        Assert.StartsWith("amq.gen-", q.QueueName);
    }

    [Fact]
    public async Task ManyChannelsOnOneConnection()
    {
        await using var conn = await _broker.ConnectAsync();
        var channels = new List<IChannel>();
        for (int i = 0; i < 50; i++)
        {
            channels.Add(await conn.CreateChannelAsync());
        }

        foreach (var c in channels)
        {
            await c.CloseAsync();
        }

        Assert.True(conn.IsOpen);
    }

    [Fact]
    public async Task NegotiatesFrameMaxAndChannelMax()
    {
        var f = _broker.Factory();
        f.RequestedFrameMax = 8192;
        f.RequestedChannelMax = 10;
        await using var conn = await f.CreateConnectionAsync();
        Assert.Equal(8192u, conn.FrameMax);
        Assert.Equal(10, conn.ChannelMax);
        await using var ch = await conn.CreateChannelAsync();
        var q = await ch.QueueDeclareAsync("", exclusive: true);
        // A body larger than frame_max is split into several body frames and reassembled.
        var body = new byte[50_000];
        new Random(7).NextBytes(body);
        await ch.BasicPublishAsync("", q.QueueName, body);
        var got = await GetWithBound(ch, q.QueueName);
        Assert.Equal(body, got.Body.ToArray());
    }

    /// <summary>The client wraps handshake failures; this digs out the one the broker caused.</summary>

    private static async Task<BasicGetResult> GetWithBound(IChannel ch, string queue)
    {
        BasicGetResult? r = null;
        await Wait.Until(() => (r = ch.BasicGetAsync(queue, true).GetAwaiter().GetResult()) is not null, "a message");
        return r!;
    }

    private static async Task<byte[]> ReadToEnd(NetworkStream stream)
    {
        using var cts = new CancellationTokenSource(Wait.Default);
        var ms = new MemoryStream();
        var buf = new byte[64];
        int n;
        while ((n = await stream.ReadAsync(buf, cts.Token)) > 0)
        {
            ms.Write(buf, 0, n);
        }

        return ms.ToArray();
    }
}
