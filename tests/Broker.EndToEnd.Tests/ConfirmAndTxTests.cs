using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

[Collection("broker")]
public sealed class ConfirmAndTxTests
{
    private readonly BrokerFixture _broker;

    public ConfirmAndTxTests(BrokerFixture broker) => _broker = broker;

    [Fact]
    public async Task EveryPublishIsConfirmed()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync(new CreateChannelOptions(
            publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        var q = await ch.QueueDeclareAsync(UniqueName("confirm"));
        var tasks = new List<Task>();
        for (int i = 0; i < 500; i++)
        {
            tasks.Add(ch.BasicPublishAsync("", q.QueueName, Body("c" + i)).AsTask());
        }

        await Wait.For(Task.WhenAll(tasks));
        Assert.Equal(500u, await ch.MessageCountAsync(q.QueueName));
    }

    [Fact]
    public async Task ConfirmsAreCoalescedWithMultiple()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync(new CreateChannelOptions(
            publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: false));
        var acks = new List<(ulong Tag, bool Multiple)>();
        ch.BasicAcksAsync += (_, e) =>
        {
            lock (acks)
            {
                acks.Add((e.DeliveryTag, e.Multiple));
            }

            return Task.CompletedTask;
        };
        var q = await ch.QueueDeclareAsync(UniqueName("coalesce"));
        for (int i = 0; i < 1000; i++)
        {
            await ch.BasicPublishAsync("", q.QueueName, Body("x"));
        }

        await Wait.Until(() => { lock (acks) { return acks.Count > 0 && acks.Max(a => a.Tag) == 1000; } }, "all 1000 confirmed");
        lock (acks)
        {
            Assert.True(acks.Count < 1000, $"expected coalesced acks, got {acks.Count} frames");
            Assert.Contains(acks, a => a.Multiple);
        }
    }

    [Fact]
    public async Task UnroutablePublishesAreConfirmedToo()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync(new CreateChannelOptions(true, true));
        await ch.BasicPublishAsync("amq.direct", UniqueName("nowhere"), Body("lost"));
    }

    [Fact]
    public async Task MandatoryUnroutableIsReturnedBeforeItsConfirm()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync(new CreateChannelOptions(true, true));
        var returned = new TaskCompletionSource<(BasicReturnEventArgs Args, byte[] Body)>();
        ch.BasicReturnAsync += (_, e) =>
        {
            // The client reuses the body's buffer after the handler: copy it.
            returned.TrySetResult((e, e.Body.ToArray()));
            return Task.CompletedTask;
        };
        string key = UniqueName("nowhere");
        var props = new BasicProperties { MessageId = "m1" };
        // RabbitMQ.Client 7 reports a returned mandatory message as a failed publish.
        await Assert.ThrowsAnyAsync<Exception>(() => ch.BasicPublishAsync("amq.direct", key, true, props, Body("back")).AsTask());
        var (r, body) = await Wait.For(returned.Task);
        Assert.Equal(312, r.ReplyCode);
        Assert.Equal("NO_ROUTE", r.ReplyText);
        Assert.Equal(key, r.RoutingKey);
        Assert.Equal("m1", r.BasicProperties.MessageId);
        Assert.Equal("back", Text(body));
    }

    [Fact]
    public async Task ConfirmAfterTxIs406()
    {
        await using var c = await RawAmqpClient.OpenAsync(_broker.Port);
        await c.SendAsync(1, new Broker.Protocol.Methods.ChannelOpen());
        await c.ExpectAsync<Broker.Protocol.Methods.ChannelOpenOk>();
        await c.SendAsync(1, new Broker.Protocol.Methods.TxSelect());
        await c.ExpectAsync<Broker.Protocol.Methods.TxSelectOk>();
        await c.SendAsync(1, new Broker.Protocol.Methods.ConfirmSelect());
        var close = await c.ExpectAsync<Broker.Protocol.Methods.ChannelClose>();
        Assert.Equal(406, close.ReplyCode);
    }

    [Fact]
    public async Task TxAfterConfirmIs406()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync(new CreateChannelOptions(true, false));
        ushort code = await ChannelErrorCode(ch, () => ch.TxSelectAsync());
        Assert.Equal(406, code);
    }

    [Fact]
    public async Task CommitWithoutSelectIs406()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        ushort code = await ChannelErrorCode(ch, () => ch.TxCommitAsync());
        Assert.Equal(406, code);
    }

    [Fact]
    public async Task TxPublishesAppearOnlyOnCommit()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        var q = (await ch.QueueDeclareAsync(UniqueName("tx"), exclusive: false, autoDelete: false)).QueueName;
        await ch.TxSelectAsync();
        for (int i = 0; i < 5; i++)
        {
            await ch.BasicPublishAsync("", q, Body("t" + i));
        }

        await using var observer = await conn.CreateChannelAsync();
        Assert.Equal(0u, (await observer.QueueDeclarePassiveAsync(q)).MessageCount);
        await ch.TxCommitAsync();
        Assert.Equal(5u, (await observer.QueueDeclarePassiveAsync(q)).MessageCount);
    }

    [Fact]
    public async Task TxRollbackDropsPublishes()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        var q = (await ch.QueueDeclareAsync(UniqueName("txr"), exclusive: false, autoDelete: false)).QueueName;
        await ch.TxSelectAsync();
        await ch.BasicPublishAsync("", q, Body("gone"));
        await ch.TxRollbackAsync();
        await ch.BasicPublishAsync("", q, Body("kept"));
        await ch.TxCommitAsync();
        var r = await ch.BasicGetAsync(q, true);
        Assert.Equal("kept", Text(r!.Body));
        Assert.Null(await ch.BasicGetAsync(q, true));
    }

    [Fact]
    public async Task TxAcksTakeEffectOnCommitAndRollbackKeepsThemUnacked()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        var q = (await ch.QueueDeclareAsync(UniqueName("txa"), exclusive: false, autoDelete: false)).QueueName;
        await ch.BasicPublishAsync("", q, Body("a"));
        await ch.BasicPublishAsync("", q, Body("b"));
        await ch.TxSelectAsync();
        var (_, deliveries) = await ConsumeAsync(ch, q);
        var a = await deliveries.NextAsync();
        var b = await deliveries.NextAsync();
        await ch.BasicAckAsync(a.DeliveryTag, false);
        await ch.TxRollbackAsync();
        await ch.BasicAckAsync(b.DeliveryTag, false);
        await ch.TxCommitAsync();
        await ch.CloseAsync();
        // a's ack was rolled back: it is still unacked and returns when the channel closes; b is gone.
        await using var ch2 = await conn.CreateChannelAsync();
        BasicGetResult? r = null;
        await Wait.Until(() => (r = ch2.BasicGetAsync(q, true).GetAwaiter().GetResult()) is not null, "a back in the queue");
        Assert.Equal("a", Text(r!.Body));
        Assert.True(r.Redelivered);
        Assert.Null(await ch2.BasicGetAsync(q, true));
    }
}
