using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>A node whose consumer timeout is one second.</summary>
public sealed class ConsumerTimeoutFixture : BrokerFixture
{
    public ConsumerTimeoutFixture() : base(new Dictionary<string, string> { ["BROKER_CONSUMER_TIMEOUT"] = "1000" })
    {
    }
}

/// <summary>
/// RabbitMQ's consumer_timeout: a delivery left unacknowledged longer closes its channel with 406
/// PRECONDITION_FAILED and RabbitMQ's text, and the message goes back to the queue, redelivered.
/// </summary>
public sealed class ConsumerTimeoutTests : IClassFixture<ConsumerTimeoutFixture>
{
    private readonly ConsumerTimeoutFixture _broker;

    public ConsumerTimeoutTests(ConsumerTimeoutFixture broker) => _broker = broker;

    [Fact]
    public async Task An_unacknowledged_delivery_older_than_the_timeout_closes_its_channel_with_406_and_is_requeued()
    {
        string queue = UniqueName("slow-consumer");
        await using var conn = await _broker.ConnectAsync();
        await using var setup = await conn.CreateChannelAsync();
        await setup.QueueDeclareAsync(queue, false, false, false);
        await setup.BasicPublishAsync("", queue, Body("held too long"));

        await using var consumer = await conn.CreateChannelAsync();
        var closed = new TaskCompletionSource<ShutdownEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.ChannelShutdownAsync += (_, e) =>
        {
            closed.TrySetResult(e);
            return Task.CompletedTask;
        };
        var (_, deliveries) = await ConsumeAsync(consumer, queue, autoAck: false);
        Assert.False((await deliveries.NextAsync()).Redelivered);

        var reason = await Wait.For(closed.Task, TimeSpan.FromSeconds(15));
        Assert.Equal(406, reason.ReplyCode);
        Assert.Equal("PRECONDITION_FAILED - delivery acknowledgement on channel 2 timed out. Timeout value used: 1000 ms. " +
                     "This timeout value can be configured, see consumers doc guide to learn more", reason.ReplyText);

        // Requeued: the next consumer gets it again, marked redelivered, and acks in time.
        await using var next = await conn.CreateChannelAsync();
        var (_, again) = await ConsumeAsync(next, queue, autoAck: false);
        var redelivered = await again.NextAsync();
        Assert.True(redelivered.Redelivered);
        Assert.Equal("held too long", Text(redelivered.Body));
        await next.BasicAckAsync(redelivered.DeliveryTag, false);
        Assert.True(conn.IsOpen);
    }

    [Fact]
    public async Task A_consumer_that_acks_within_the_timeout_keeps_its_channel()
    {
        string queue = UniqueName("prompt-consumer");
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        await ch.QueueDeclareAsync(queue, false, false, false);
        var (_, deliveries) = await ConsumeAsync(ch, queue, autoAck: false);
        // Three rounds, each acked well within the timeout: together they last longer than it.
        for (int i = 0; i < 3; i++)
        {
            await ch.BasicPublishAsync("", queue, Body($"m{i}"));
            var d = await deliveries.NextAsync();
            await ch.BasicAckAsync(d.DeliveryTag, false);
            Assert.True(await deliveries.NothingWithin(TimeSpan.FromMilliseconds(600)));
        }

        Assert.True(ch.IsOpen);
    }
}
