using System.Net;
using RabbitMQ.Client;

namespace Broker.EndToEnd.Tests;

/// <summary>BROKER_CONNECTION_MAX (RabbitMQ's connection_max): a node with as many open connections as its limit refuses connection.open with 530.</summary>
public sealed class ConnectionLimitTests
{
    [Fact]
    public async Task A_node_at_its_connection_limit_refuses_the_next_with_530_and_takes_one_again_when_one_closes()
    {
        await using var broker = await BrokerFixture.StartAsync(new Dictionary<string, string> { ["BROKER_CONNECTION_MAX"] = "2" });
        var first = await broker.ConnectAsync();
        await using var second = await broker.ConnectAsync();

        // A raw handshake: RabbitMQ.Client now and then loses the close that refuses connection.open.
        var refused = Assert.IsType<Broker.Protocol.Methods.ConnectionClose>(await RawAmqpClient.OpenReplyAsync(broker.Port, "/"));
        Assert.Equal((530, "NOT_ALLOWED - connection refused: node connection limit (2) is reached"), (refused.ReplyCode, refused.ReplyText));

        // The management API's own AMQP session is the node's, not a client's: it still works at the limit.
        using var api = new ManagementClient(broker.ManagementUri);
        Assert.Equal(HttpStatusCode.OK, await api.StatusOf(HttpMethod.Get, "/api/aliveness-test/%2F"));

        await first.CloseAsync();
        await first.DisposeAsync();
        await using var third = await broker.ConnectAsync();
        await using var channel = await third.CreateChannelAsync();
        await channel.QueueDeclareAsync("", exclusive: true);
    }
}
