using Broker.Protocol.Methods;
using RabbitMQ.Client;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

[Collection("broker")]
public sealed class FlowControlTests
{
    private readonly BrokerFixture _broker;

    public FlowControlTests(BrokerFixture broker) => _broker = broker;

    [Fact]
    public async Task AConsumerThatStopsReadingLeavesMessagesInTheQueue()
    {
        const int total = 60_000;
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync(new CreateChannelOptions(true, true));
        string q = (await ch.QueueDeclareAsync(UniqueName("slow"), exclusive: false, autoDelete: false)).QueueName;

        // A no-ack consumer whose socket is never read: only what fits in the broker's outbound
        // buffer and the socket may leave the queue; the rest must wait there, not in memory.
        await using var stuck = await RawAmqpClient.OpenAsync(_broker.Port);
        await stuck.SendAsync(1, new ChannelOpen());
        await stuck.ExpectAsync<ChannelOpenOk>();
        await stuck.SendAsync(1, new BasicConsume { Queue = q, ConsumerTag = "stuck", NoAck = true });
        await stuck.ExpectAsync<BasicConsumeOk>();

        var body = new byte[1024];
        var pending = new List<Task>();
        for (int i = 0; i < total; i++)
        {
            pending.Add(ch.BasicPublishAsync("", q, body).AsTask());
            if (pending.Count == 1000)
            {
                await Wait.For(Task.WhenAll(pending), TimeSpan.FromSeconds(60));
                pending.Clear();
            }
        }

        await Wait.For(Task.WhenAll(pending), TimeSpan.FromSeconds(60));
        uint ready = (await ch.QueueDeclarePassiveAsync(q)).MessageCount;
        Assert.True(ready > total / 2, $"only {ready} of {total} messages stayed in the queue");
        await ch.QueueDeleteAsync(q);
    }
}
