using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>The alternate-exchange argument: where unroutable messages go instead, checked as RabbitMQ 3.10 checks it.</summary>
[Collection("broker")]
public sealed class AlternateExchangeTests
{
    private readonly BrokerFixture _broker;

    public AlternateExchangeTests(BrokerFixture broker) => _broker = broker;

    [Fact]
    public async Task Unroutable_messages_go_to_the_alternate_exchange()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync(new CreateChannelOptions(true, true));
        string main = UniqueName("ae-main"), ae = UniqueName("ae"), aeq = UniqueName("ae-q");
        await ch.ExchangeDeclareAsync(ae, ExchangeType.Fanout);
        await ch.QueueDeclareAsync(aeq, false, false, false);
        await ch.QueueBindAsync(aeq, ae, "");
        await ch.ExchangeDeclareAsync(main, ExchangeType.Direct, false, false, new Dictionary<string, object?> { ["alternate-exchange"] = ae });
        // Mandatory is satisfied by the alternate exchange: no return, an ack.
        await ch.BasicPublishAsync(main, "nowhere", true, new BasicProperties(), Body("m"));
        var got = await ch.BasicGetAsync(aeq, true);
        Assert.Equal((main, "nowhere"), (got!.Exchange, got.RoutingKey));

        string orphan = UniqueName("ae-orphan");
        await ch.ExchangeDeclareAsync(orphan, ExchangeType.Direct, false, false, new Dictionary<string, object?> { ["alternate-exchange"] = "no-such-exchange" });
        var returned = await Assert.ThrowsAnyAsync<PublishException>(async () => await ch.BasicPublishAsync(orphan, "nowhere", true, new BasicProperties(), Body("m")));
        Assert.True(returned.IsReturn);
    }

    [Fact]
    public async Task Alternate_exchange_arguments_are_checked_as_rabbitmq_checks_them()
    {
        await using var conn = await _broker.ConnectAsync();
        var ch = await conn.CreateChannelAsync();
        string x = UniqueName("ae-bad");
        var (code, text) = await ChannelError(ch, () => ch.ExchangeDeclareAsync(x, ExchangeType.Direct, false, false,
            new Dictionary<string, object?> { ["alternate-exchange"] = 5 }));
        Assert.Equal((406, $"PRECONDITION_FAILED - invalid type 'signedint' for arg 'alternate-exchange' in exchange '{x}' in vhost '/'"), (code, text));

        ch = await conn.CreateChannelAsync();
        string y = UniqueName("ae-redecl");
        await ch.ExchangeDeclareAsync(y, ExchangeType.Direct, false, false, new Dictionary<string, object?> { ["alternate-exchange"] = "a" });
        await ch.ExchangeDeclareAsync(y, ExchangeType.Direct, false, false, new Dictionary<string, object?> { ["alternate-exchange"] = "a", ["x-foo"] = 1 });
        (code, text) = await ChannelError(ch, () => ch.ExchangeDeclareAsync(y, ExchangeType.Direct, false, false,
            new Dictionary<string, object?> { ["alternate-exchange"] = "b" }));
        Assert.Equal((406, $"PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange '{y}' in vhost '/': received 'b' but current is 'a'"), (code, text));
    }
}
