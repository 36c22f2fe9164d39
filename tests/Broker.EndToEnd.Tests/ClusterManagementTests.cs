using System.Net;
using System.Text.Json.Nodes;
using RabbitMQ.Client;
using static Broker.EndToEnd.Tests.ClientHelpers;
using static Broker.EndToEnd.Tests.ManagementClient;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// Every node's management API shows the whole cluster: connections and queues of the other
/// nodes with the node each lives on and the numbers counted there, every node in /api/nodes, and
/// a connection on another node closed from here.
/// </summary>
[Collection("cluster")]
public sealed class ClusterManagementTests
{
    private readonly ClusterNodes _cluster;

    public ClusterManagementTests(ClusterFixture fixture) => _cluster = fixture.Cluster;

    private async Task<IConnection> Connect(int node, string name)
    {
        var factory = ClusterNodes.Factory(_cluster.Nodes[node]);
        factory.ClientProvidedName = name;
        return await factory.CreateConnectionAsync();
    }

    [Fact]
    public async Task Any_nodes_API_lists_every_nodes_connections_and_queues_and_closes_a_remote_connection()
    {
        string first = UniqueName("on-node1");
        string third = UniqueName("on-node3");
        string queue = UniqueName("lives-on-node2");
        await using var c1 = await Connect(0, first);
        await using var c3 = await Connect(2, third);
        await using (var c2 = await Connect(1, UniqueName("declarer")))
        await using (var declare = await c2.CreateChannelAsync())
        {
            // Non-durable: it lives on the node that declared it (node2).
            await declare.QueueDeclareAsync(queue, durable: false, exclusive: false, autoDelete: false);
        }

        await using (var publish = await c1.CreateChannelAsync(new CreateChannelOptions(true, true)))
        {
            for (int i = 0; i < 3; i++)
            {
                await publish.BasicPublishAsync("", queue, Body("x"));
            }
        }

        using var api = new ManagementClient(_cluster.Nodes[2].ManagementUri);
        JsonArray connections = null!;
        await Wait.Until(async () =>
        {
            connections = (await api.GetAsync("api/connections")).AsArray();
            return connections.Any(c => (string?)c!["user_provided_name"] == first) && connections.Any(c => (string?)c!["user_provided_name"] == third);
        }, "both connections listed by node3");
        Assert.Equal(ClusterNodes.NodeName(0), (string?)connections.Single(c => (string?)c!["user_provided_name"] == first)!["node"]);
        Assert.Equal(ClusterNodes.NodeName(2), (string?)connections.Single(c => (string?)c!["user_provided_name"] == third)!["node"]);

        JsonNode q = null!;
        await Wait.Until(async () => (int?)(q = await api.GetAsync($"api/queues/%2F/{Seg(queue)}"))["messages_ready"] == 3, "3 messages counted on node2");
        Assert.Equal(ClusterNodes.NodeName(1), (string?)q["node"]);
        Assert.Equal(3, (long)q["message_stats"]!["publish"]!);

        var nodes = (await api.GetAsync("api/nodes")).AsArray();
        Assert.Equal(Enumerable.Range(0, 3).Select(ClusterNodes.NodeName), nodes.Select(n => (string)n!["name"]!).Order());
        Assert.All(nodes, n => Assert.True((bool)n!["running"]!));

        // Closed from node3's API, on node1.
        string name = (string)connections.Single(c => (string?)c!["user_provided_name"] == first)!["name"]!;
        Assert.Equal(HttpStatusCode.NoContent, await api.StatusOf(HttpMethod.Delete, $"api/connections/{Seg(name)}"));
        await Wait.Until(() => !c1.IsOpen, "the connection on node1 closed");
        Assert.Equal(320, c1.CloseReason!.ReplyCode);
        Assert.Equal("CONNECTION_FORCED - Closed via management plugin", c1.CloseReason.ReplyText);
        Assert.True(c3.IsOpen);
    }
}
