using Broker.Protocol;
using Broker.Protocol.Methods;

namespace Broker.EndToEnd.Tests;

/// <summary>Protocol edges driven with raw frames: errors, heartbeats, flow, recover, tune limits.</summary>
[Collection("broker")]
public sealed class RawProtocolTests
{
    private readonly BrokerFixture _broker;

    public RawProtocolTests(BrokerFixture broker) => _broker = broker;

    private static async Task<ConnectionClose> ExpectConnectionClose(RawAmqpClient c, ushort code)
    {
        var close = await c.ExpectAsync<ConnectionClose>();
        Assert.Equal(code, close.ReplyCode);
        await c.SendAsync(0, new ConnectionCloseOk());
        Assert.True(await c.ClosedWithinAsync(Wait.Default));
        return close;
    }

    [Fact]
    public async Task FrameOverFrameMaxIs501()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port, frameMax: 4096);
        await c.SendAsync(1, new ChannelOpen());
        await c.ExpectAsync<ChannelOpenOk>();
        var w = new AmqpWriter();
        FrameWriter.WriteContent(w, 1, new BasicPublish { RoutingKey = "x" }, ContentHeader.EncodeProperties(new BasicProperties()),
            new byte[10_000], frameMax: 0);
        await c.SendRawAsync(w.ToArray());
        await ExpectConnectionClose(c, ReplyCode.FrameError);
    }

    [Fact]
    public async Task BadFrameEndIs501()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
        var w = new AmqpWriter();
        FrameWriter.WriteMethod(w, 1, new ChannelOpen());
        var bytes = w.ToArray();
        bytes[^1] = 0x00;
        await c.SendRawAsync(bytes);
        var close = await c.ExpectAsync<ConnectionClose>();
        Assert.Equal(ReplyCode.FrameError, close.ReplyCode);
    }

    [Fact]
    public async Task UnknownMethodIs540()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
        await c.SendRawAsync(new byte[] { 1, 0, 1, 0, 0, 0, 4, 0, 99, 0, 1, 0xCE });
        await ExpectConnectionClose(c, ReplyCode.NotImplemented);
    }

    [Fact]
    public async Task UnknownFieldTypeInATableIs502()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
        await c.SendAsync(1, new ChannelOpen());
        await c.ExpectAsync<ChannelOpenOk>();
        // queue.declare whose arguments table holds one entry of type 'Z', which does not exist.
        var w = new AmqpWriter();
        w.WriteShort(50);
        w.WriteShort(10);
        w.WriteShort(0);
        w.WriteShortString("q502");
        w.WriteOctet(0);
        w.WriteLong(3);
        w.WriteOctet(1);
        w.WriteOctet((byte)'k');
        w.WriteOctet((byte)'Z');
        var payload = w.ToArray();
        var frame = new AmqpWriter();
        frame.WriteOctet(1);
        frame.WriteShort(1);
        frame.WriteLong((uint)payload.Length);
        frame.WriteBytes(payload);
        frame.WriteOctet(0xCE);
        await c.SendRawAsync(frame.ToArray());
        await ExpectConnectionClose(c, ReplyCode.SyntaxError);
    }

    [Fact]
    public async Task MethodOnAnUnopenedChannelIs504()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
        await c.SendAsync(3, new QueueDeclare { Queue = "x" });
        await ExpectConnectionClose(c, ReplyCode.ChannelError);
    }

    [Fact]
    public async Task SecondChannelOpenIs504()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
        await c.SendAsync(1, new ChannelOpen());
        await c.ExpectAsync<ChannelOpenOk>();
        await c.SendAsync(1, new ChannelOpen());
        await ExpectConnectionClose(c, ReplyCode.ChannelError);
    }

    [Fact]
    public async Task ChannelAboveChannelMaxIs504()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port, channelMax: 5);
        await c.SendAsync(6, new ChannelOpen());
        await ExpectConnectionClose(c, ReplyCode.ChannelError);
    }

    [Fact]
    public async Task ContentHeaderWithoutMethodIs505()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
        await c.SendAsync(1, new ChannelOpen());
        await c.ExpectAsync<ChannelOpenOk>();
        await c.SendRawAsync(new byte[] { 2, 0, 1, 0, 0, 0, 14, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xCE });
        await ExpectConnectionClose(c, ReplyCode.UnexpectedFrame);
    }

    [Fact]
    public async Task TuneOkBelowMinimumFrameMaxIs530()
    {
        await using var c = await RawAmqpClient.ConnectAsync(_broker.Port);
        await c.SendRawAsync(FrameWriter.ProtocolHeader);
        await c.ExpectAsync<ConnectionStart>();
        await c.SendAsync(0, new ConnectionStartOk { Mechanism = "PLAIN", Response = "\0guest\0guest"u8.ToArray() });
        var tune = await c.ExpectAsync<ConnectionTune>();
        Assert.Equal(131072u, tune.FrameMax);
        Assert.Equal(2047, tune.ChannelMax);
        await c.SendAsync(0, new ConnectionTuneOk { FrameMax = 1024 });
        await ExpectConnectionClose(c, ReplyCode.NotAllowed);
    }

    [Fact]
    public async Task AmqPlainLoginWorks()
    {
        await using var c = await RawAmqpClient.ConnectAsync(_broker.Port);
        await c.SendRawAsync(FrameWriter.ProtocolHeader);
        var start = await c.ExpectAsync<ConnectionStart>();
        Assert.Contains("AMQPLAIN", System.Text.Encoding.UTF8.GetString(start.Mechanisms));
        var w = new AmqpWriter();
        w.WriteShortString("LOGIN");
        w.WriteFieldValue("guest");
        w.WriteShortString("PASSWORD");
        w.WriteFieldValue("guest");
        await c.SendAsync(0, new ConnectionStartOk { Mechanism = "AMQPLAIN", Response = w.ToArray() });
        await c.ExpectAsync<ConnectionTune>();
    }

    [Fact]
    public async Task AuthFailureWithoutTheCapabilityJustClosesTheSocket()
    {
        await using var c = await RawAmqpClient.ConnectAsync(_broker.Port);
        await c.SendRawAsync(FrameWriter.ProtocolHeader);
        await c.ExpectAsync<ConnectionStart>();
        await c.SendAsync(0, new ConnectionStartOk { Mechanism = "PLAIN", Response = "\0guest\0wrong"u8.ToArray() });
        Assert.Null(await c.NextAsync());
    }

    [Fact]
    public async Task AReplyOwedWhenTheClientClosesTheConnectionRightAfterAskingIsSentBeforeCloseOk()
    {
        // RabbitMQ answers the queue.delete first; the broker used to drop the delete-ok.
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
        string q = ClientHelpers.UniqueName("owed");
        await c.SendAsync(1, new ChannelOpen());
        await c.ExpectAsync<ChannelOpenOk>();
        await c.SendAsync(1, new QueueDeclare { Queue = q });
        await c.ExpectAsync<QueueDeclareOk>();
        var w = new AmqpWriter();
        FrameWriter.WriteMethod(w, 1, new QueueDelete { Queue = q });
        FrameWriter.WriteMethod(w, 0, new ConnectionClose { ReplyCode = 200, ReplyText = "bye" });
        await c.SendRawAsync(w.ToArray());
        await c.ExpectAsync<QueueDeleteOk>();
        await c.ExpectAsync<ConnectionCloseOk>();
    }

    [Fact]
    public async Task ChannelCloseOnANumberNeverOpenedClosesTheConnectionWith504()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
        await c.SendAsync(5, new ChannelClose { ReplyCode = 200, ReplyText = "bye" });
        var close = await ExpectConnectionClose(c, 504);
        Assert.StartsWith("CHANNEL_ERROR - expected 'channel.open'", close.ReplyText);
        Assert.Equal((20, 40), (close.FailingClassId, close.FailingMethodId));
    }

    [Fact]
    public async Task AfterCloseOkToTheClientsCloseTheSocketStaysOpenUntilTheClientClosesIt()
    {
        // As RabbitMQ: a client still writing when its close is answered must not get EPIPE
        // (amqplib never saw its close complete); what it sends is discarded.
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
        await c.SendAsync(1, new ChannelOpen());
        await c.ExpectAsync<ChannelOpenOk>();
        await c.SendAsync(0, new ConnectionClose { ReplyCode = 200, ReplyText = "bye" });
        await c.ExpectAsync<ConnectionCloseOk>();
        for (int i = 0; i < 200; i++)
        {
            await c.PublishAsync(1, "", "nowhere", new byte[1024]);
        }

        Assert.False(await c.ClosedWithinAsync(TimeSpan.FromMilliseconds(500)));
        // A client that never closes is dropped after the close timeout.
        Assert.True(await c.ClosedWithinAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task SilentPeerIsDisconnectedAfterTwoHeartbeats()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port, heartbeat: 1);
        await c.WaitForHeartbeatAsync(TimeSpan.FromSeconds(5));
        // We send nothing: the broker must drop us after about two intervals.
        Assert.True(await c.ClosedWithinAsync(TimeSpan.FromSeconds(8)));
    }

    [Fact]
    public async Task PeerSendingHeartbeatsStaysConnected()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port, heartbeat: 1);
        for (int i = 0; i < 4; i++)
        {
            await c.WaitForHeartbeatAsync(TimeSpan.FromSeconds(5));
            await c.SendRawAsync(FrameWriter.HeartbeatFrame);
        }

        await c.SendAsync(1, new ChannelOpen());
        await c.ExpectAsync<ChannelOpenOk>();
    }

    [Fact]
    public async Task ChannelFlowPausesDeliveries()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
        await c.SendAsync(1, new ChannelOpen());
        await c.ExpectAsync<ChannelOpenOk>();
        await c.SendAsync(1, new QueueDeclare { Exclusive = true });
        var q = (await c.ExpectAsync<QueueDeclareOk>()).Queue;
        await c.SendAsync(1, new BasicConsume { Queue = q, ConsumerTag = "c1", NoAck = true });
        await c.ExpectAsync<BasicConsumeOk>();
        await c.SendAsync(1, new ChannelFlow { Active = false });
        Assert.False((await c.ExpectAsync<ChannelFlowOk>()).Active);
        await c.PublishAsync(1, "", q, "paused"u8.ToArray());
        // While paused the delivery is held; the next thing we see is the flow-ok for resuming.
        await c.SendAsync(1, new ChannelFlow { Active = true });
        Assert.True((await c.ExpectAsync<ChannelFlowOk>()).Active);
        var deliver = await c.ExpectCommandAsync();
        Assert.IsType<BasicDeliver>(deliver.Method);
        Assert.Equal("paused"u8.ToArray(), deliver.Body);
    }

    [Fact]
    public async Task RecoverRedeliversUnackedMessages()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
        await c.SendAsync(1, new ChannelOpen());
        await c.ExpectAsync<ChannelOpenOk>();
        await c.SendAsync(1, new QueueDeclare { Exclusive = true });
        var q = (await c.ExpectAsync<QueueDeclareOk>()).Queue;
        await c.PublishAsync(1, "", q, "r"u8.ToArray());
        await c.SendAsync(1, new BasicConsume { Queue = q, ConsumerTag = "c1" });
        await c.ExpectAsync<BasicConsumeOk>();
        var first = (BasicDeliver)(await c.ExpectCommandAsync()).Method;
        Assert.False(first.Redelivered);
        await c.SendAsync(1, new BasicRecover { Requeue = true });
        Command next = await c.ExpectCommandAsync();
        var rest = new List<Command> { next, await c.ExpectCommandAsync() };
        Assert.Contains(rest, x => x.Method is BasicRecoverOk);
        var again = (BasicDeliver)rest.Single(x => x.Method is BasicDeliver).Method;
        Assert.True(again.Redelivered);
        Assert.NotEqual(first.DeliveryTag, again.DeliveryTag);
    }

    [Fact]
    public async Task RecoverWithoutRequeueIsNotImplemented540AsInRabbitMQ()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
        await c.SendAsync(1, new ChannelOpen());
        await c.ExpectAsync<ChannelOpenOk>();
        await c.SendAsync(1, new BasicRecover { Requeue = false });
        var close = await ExpectConnectionClose(c, ReplyCode.NotImplemented);
        Assert.Equal("NOT_IMPLEMENTED - requeue=false", close.ReplyText);
    }

    [Fact]
    public async Task AccessRequestIsAnsweredForOldClients()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
        await c.SendAsync(1, new ChannelOpen());
        await c.ExpectAsync<ChannelOpenOk>();
        await c.SendAsync(1, new AccessRequest());
        await c.ExpectAsync<AccessRequestOk>();
    }

    [Fact]
    public async Task ImmediatePublishIsNotImplemented540()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
        await c.SendAsync(1, new ChannelOpen());
        await c.ExpectAsync<ChannelOpenOk>();
        var w = new AmqpWriter();
        FrameWriter.WriteContent(w, 1, new BasicPublish { RoutingKey = "x", Immediate = true },
            ContentHeader.EncodeProperties(new BasicProperties()), "i"u8.ToArray(), 131072);
        await c.SendRawAsync(w.ToArray());
        await ExpectConnectionClose(c, ReplyCode.NotImplemented);
    }

    [Fact]
    public async Task ShutdownClosesConnectionsWith320()
    {
        var broker = await BrokerFixture.StartAsync(new());
        await using var c = await RawAmqpClient.OpenAsync(broker.Port);
        var stopping = broker.DisposeAsync();
        var close = await c.ExpectAsync<ConnectionClose>();
        Assert.Equal(ReplyCode.ConnectionForced, close.ReplyCode);
        await c.SendAsync(0, new ConnectionCloseOk());
        await Wait.For(stopping, TimeSpan.FromSeconds(30));
    }
}
