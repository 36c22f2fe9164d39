using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// What a channel.close carries: a reply text cut to fit its short string (a 404 naming a
/// 255-character queue used to fail to encode, and the client waited for a close that never came),
/// and the class and method ids of the method that failed, also when a queue or exchange entity
/// raised the error (RabbitMQ sends 50/10 for queue.declare, 40/10 for exchange.declare...).
/// </summary>
[Collection("broker")]
public sealed class ChannelCloseTests
{
    private readonly BrokerFixture _broker;

    public ChannelCloseTests(BrokerFixture broker) => _broker = broker;

    private static async Task<ShutdownEventArgs> CloseOf(IChannel channel, Func<Task> operation)
    {
        var ex = await Assert.ThrowsAnyAsync<OperationInterruptedException>(operation).WaitAsync(TimeSpan.FromSeconds(15));
        await Wait.Until(() => channel.IsClosed, "channel to close");
        return ex.ShutdownReason!;
    }

    [Fact]
    public async Task A_404_naming_a_255_character_queue_is_sent_cut_to_fit()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string name = UniqueName("long").PadRight(255, 'x');
        var close = await CloseOf(ch, () => ch.QueueDeclarePassiveAsync(name));
        Assert.Equal(404, close.ReplyCode);
        Assert.StartsWith($"NOT_FOUND - no queue '{name[..100]}", close.ReplyText);
        Assert.Equal(255, System.Text.Encoding.UTF8.GetByteCount(close.ReplyText));
        Assert.Equal((50, 10), (close.ClassId, close.MethodId));
    }

    [Fact]
    public async Task Errors_raised_by_entities_carry_the_failing_methods_ids()
    {
        await using var conn = await _broker.ConnectAsync();
        string q = UniqueName("ids-q"), x = UniqueName("ids-x");
        await using (var ch = await conn.CreateChannelAsync())
        {
            await ch.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: false);
            await ch.ExchangeDeclareAsync(x, ExchangeType.Direct);
            await ch.BasicPublishAsync("", q, Body("m"));
        }

        await using (var ch = await conn.CreateChannelAsync())
        {
            // The queue's actor checks the redeclare: 406 for queue.declare (50/10).
            var close = await CloseOf(ch, () => ch.QueueDeclareAsync(q, durable: false, exclusive: false, autoDelete: true));
            Assert.Equal((406, 50, 10), (close.ReplyCode, close.ClassId, close.MethodId));
        }

        await using (var ch = await conn.CreateChannelAsync())
        {
            // The exchange's actor checks the redeclare: 406 for exchange.declare (40/10).
            var close = await CloseOf(ch, () => ch.ExchangeDeclareAsync(x, ExchangeType.Fanout));
            Assert.Equal((406, 40, 10), (close.ReplyCode, close.ClassId, close.MethodId));
        }

        await using (var ch = await conn.CreateChannelAsync())
        {
            // The queue's actor refuses to delete a queue that is not empty: queue.delete (50/40).
            var close = await CloseOf(ch, () => ch.QueueDeleteAsync(q, ifUnused: false, ifEmpty: true));
            Assert.Equal((406, 50, 40), (close.ReplyCode, close.ClassId, close.MethodId));
        }
    }
}
