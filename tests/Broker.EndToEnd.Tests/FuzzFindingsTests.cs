using Broker.Protocol;
using Broker.Protocol.Methods;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// What fuzzing over TCP (FuzzTests) found, each pinned with the smallest session that shows it;
/// RabbitMQ 3.10.8's answer is the reference.
/// </summary>
[Collection("broker")]
public sealed class FuzzFindingsTests
{
    private readonly BrokerFixture _broker;

    public FuzzFindingsTests(BrokerFixture broker) => _broker = broker;

    private static async Task<ConnectionClose> ExpectConnectionClose(RawAmqpClient c, ushort code)
    {
        var close = await c.ExpectAsync<ConnectionClose>();
        Assert.Equal(code, close.ReplyCode);
        await c.SendAsync(0, new ConnectionCloseOk());
        Assert.True(await c.ClosedWithinAsync(Wait.Default));
        return close;
    }

    private static byte[] Methods(params (ushort Channel, Method Method)[] methods)
    {
        var w = new AmqpWriter();
        foreach (var (channel, method) in methods)
        {
            FrameWriter.WriteMethod(w, channel, method);
        }

        return w.ToArray();
    }

    [Fact]
    public async Task AConnectionErrorOnACommandSentJustBeforeTheClientsCloseIsAnsweredNotSwallowed()
    {
        // A connection method on a channel is 503; sent together with connection.close, the broker
        // answered close-ok (the channel's error came while the close waited for the channels).
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
        await c.SendAsync(1, new ChannelOpen());
        await c.ExpectAsync<ChannelOpenOk>();
        await c.SendRawAsync(Methods((1, new ConnectionTuneOk { FrameMax = 131072 }), (0, new ConnectionClose { ReplyCode = 200, ReplyText = "bye" })));
        await ExpectConnectionClose(c, ReplyCode.CommandInvalid);
    }

    [Fact]
    public async Task AMethodChannelZeroDoesNotExpectIsChannelError504()
    {
        // RabbitMQ: "CHANNEL_ERROR - unexpected method in connection state running", whatever the
        // method's class; the broker answered 503.
        var strays = new List<byte[]>
        {
            Methods((0, new QueueDeclare { Queue = "on-zero" })),
            Methods((0, new ConnectionOpen { VirtualHost = "/" })),
            Methods((0, new ChannelOpen())),
        };
        var publish = new AmqpWriter();
        FrameWriter.WriteContent(publish, 0, new BasicPublish { RoutingKey = "x" }, ContentHeader.EncodeProperties(new BasicProperties()),
            "zero"u8.ToArray(), 131072);
        strays.Add(publish.ToArray());
        foreach (var stray in strays)
        {
            await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
            await c.SendRawAsync(stray);
            await ExpectConnectionClose(c, ReplyCode.ChannelError);
        }
    }

    [Fact]
    public async Task AChannelUsedBeforeConnectionOpenIsUnexpectedFrame505()
    {
        // RabbitMQ answers 505 to any frame on a channel other than 0 before the connection is open; the broker answered 504.
        await using var c = await RawAmqpClient.ConnectAsync(_broker.Port);
        await c.SendRawAsync(FrameWriter.ProtocolHeader);
        await c.ExpectAsync<ConnectionStart>();
        await c.SendAsync(0, new ConnectionStartOk { Mechanism = "PLAIN", Response = "\0guest\0guest"u8.ToArray() });
        await c.ExpectAsync<ConnectionTune>();
        await c.SendRawAsync(Methods((0, new ConnectionTuneOk { ChannelMax = 2047, FrameMax = 131072 }), (1, new ChannelOpen())));
        await ExpectConnectionClose(c, ReplyCode.UnexpectedFrame);
    }
}
