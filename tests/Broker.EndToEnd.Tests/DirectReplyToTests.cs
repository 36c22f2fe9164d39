using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>Direct reply-to (amq.rabbitmq.reply-to): RPC without a reply queue, with RabbitMQ 3.10's answers to misuse.</summary>
[Collection("broker")]
public sealed class DirectReplyToTests
{
    private const string ReplyTo = "amq.rabbitmq.reply-to";
    private readonly BrokerFixture _broker;

    public DirectReplyToTests(BrokerFixture broker) => _broker = broker;

    [Fact]
    public async Task A_reply_reaches_the_requesting_channel_without_a_reply_queue()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var server = await conn.CreateChannelAsync();
        string requests = UniqueName("rpc");
        await server.QueueDeclareAsync(requests, false, false, true);
        var (_, incoming) = await ConsumeAsync(server, requests, autoAck: true);

        await using var clientConn = await _broker.ConnectAsync();
        await using var client = await clientConn.CreateChannelAsync();
        var (replyTag, replies) = await ConsumeAsync(client, ReplyTo, autoAck: true);
        Assert.StartsWith("amq.ctag-", replyTag);
        await client.BasicPublishAsync("", requests, false, new BasicProperties { ReplyTo = ReplyTo, CorrelationId = "c1" }, Body("ping"));

        var request = await incoming.NextAsync();
        string address = request.BasicProperties.ReplyTo!;
        Assert.StartsWith(ReplyTo + ".", address);
        await server.BasicPublishAsync("", address, false, new BasicProperties { CorrelationId = request.BasicProperties.CorrelationId }, Body("pong"));

        var reply = await replies.NextAsync();
        Assert.Equal("pong", Text(reply.Body));
        Assert.Equal("c1", reply.BasicProperties.CorrelationId);
        Assert.Equal("", reply.Exchange);
        Assert.Equal(address, reply.RoutingKey);
        Assert.Equal(replyTag, reply.ConsumerTag);
        Assert.False(reply.Redelivered);
    }

    [Fact]
    public async Task Misuse_gets_rabbitmqs_errors()
    {
        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        var (code, text) = await ChannelError(ch, async () =>
        {
            await ch.BasicPublishAsync("", "anything", false, new BasicProperties { ReplyTo = ReplyTo }, Body("m"));
            await ch.QueueDeclarePassiveAsync(ReplyTo);
        });
        Assert.Equal((406, "PRECONDITION_FAILED - fast reply consumer does not exist"), (code, text));

        ch = await conn.CreateChannelAsync();
        (code, text) = await ChannelError(ch, () => ConsumeAsync(ch, ReplyTo, autoAck: false));
        Assert.Equal((406, "PRECONDITION_FAILED - reply consumer cannot acknowledge"), (code, text));

        ch = await conn.CreateChannelAsync();
        await ConsumeAsync(ch, ReplyTo, autoAck: true);
        (code, text) = await ChannelError(ch, () => ConsumeAsync(ch, ReplyTo, autoAck: true));
        Assert.Equal((406, "PRECONDITION_FAILED - reply consumer already set"), (code, text));

        ch = await conn.CreateChannelAsync();
        Assert.Equal(1u, (await ch.QueueDeclarePassiveAsync(ReplyTo)).ConsumerCount);
    }

    [Fact]
    public async Task A_reply_to_a_forged_address_is_unroutable()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        var returned = new TaskCompletionSource<BasicReturnEventArgs>();
        ch.BasicReturnAsync += (_, e) =>
        {
            returned.TrySetResult(e);
            return Task.CompletedTask;
        };
        await ch.BasicPublishAsync("", ReplyTo + ".bogus", true, new BasicProperties(), Body("m"));
        var r = await Wait.For(returned.Task);
        Assert.Equal(312, r.ReplyCode);

        // A well-formed address naming an actor that is not a channel reaches nothing either.
        returned = new TaskCompletionSource<BasicReturnEventArgs>();
        string path = System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes("akka://broker/user/topology"));
        await ch.BasicPublishAsync("", $"{ReplyTo}.{path}.secret", true, new BasicProperties(), Body("m"));
        Assert.Equal(312, (await Wait.For(returned.Task)).ReplyCode);
    }
}
