using RabbitMQ.Client;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// Users, vhosts and permissions are the same on every node: a change made through one node's
/// command line applies on all of them before the command returns, and a deleted vhost closes its
/// connections on every node. (A node that joins or restarts gets the whole store: see the join
/// and whole-cluster-restart tests in ClusterFailoverTests.)
/// </summary>
[Collection("cluster")]
public sealed class ClusterAccessTests
{
    private readonly ClusterNodes _cluster;

    public ClusterAccessTests(ClusterFixture fixture) => _cluster = fixture.Cluster;

    private ConnectionFactory As(int node, string user, string password, string vhost = "/")
    {
        var f = ClusterNodes.Factory(_cluster[node]);
        f.UserName = user;
        f.Password = password;
        f.VirtualHost = vhost;
        return f;
    }

    [Fact]
    public async Task A_user_added_through_one_node_logs_in_on_the_others_right_after()
    {
        string user = UniqueName("cl-user");
        await NodeCli.OkAsync(_cluster[1].Uri, "users", "add", user, "pw");
        await NodeCli.OkAsync(_cluster[1].Uri, "permissions", "set", user, "^mine-", "^mine-", "^mine-");
        for (int node = 0; node < 3; node++)
        {
            await using var conn = await As(node, user, "pw").CreateConnectionAsync();
            await using var ch = await conn.CreateChannelAsync();
            await ch.QueueDeclareAsync($"mine-{user}-{node}", false, false, true);
            var (code, _) = await ChannelError(ch, () => ch.QueueDeclareAsync($"theirs-{user}", false, false, true));
            Assert.Equal(403, code);
        }

        // A permission change made through node 3 applies on node 1 at once.
        await NodeCli.OkAsync(_cluster[2].Uri, "permissions", "set", user, ".*", ".*", ".*");
        await using (var conn = await As(0, user, "pw").CreateConnectionAsync())
        await using (var ch = await conn.CreateChannelAsync())
        {
            await ch.QueueDeclareAsync($"theirs-{user}", false, false, true);
        }

        await NodeCli.OkAsync(_cluster[0].Uri, "users", "delete", user);
        for (int node = 0; node < 3; node++)
        {
            await ConnectFailure<RabbitMQ.Client.Exceptions.AuthenticationFailureException>(As(node, user, "pw"));
        }
    }

    [Fact]
    public async Task A_vhost_added_through_one_node_is_served_by_all_and_its_deletion_closes_connections_on_every_node()
    {
        string vhost = UniqueName("cl-vh");
        await NodeCli.OkAsync(_cluster[0].Uri, "vhosts", "add", vhost);
        await NodeCli.OkAsync(_cluster[0].Uri, "permissions", "set", "guest", ".*", ".*", ".*", "--vhost", vhost);
        var closes = new List<Task<RabbitMQ.Client.Events.ShutdownEventArgs>>();
        var connections = new List<IConnection>();
        for (int node = 0; node < 3; node++)
        {
            var conn = await As(node, "guest", "guest", vhost).CreateConnectionAsync();
            connections.Add(conn);
            var closed = new TaskCompletionSource<RabbitMQ.Client.Events.ShutdownEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
            conn.ConnectionShutdownAsync += (_, e) =>
            {
                closed.TrySetResult(e);
                return Task.CompletedTask;
            };
            closes.Add(closed.Task);
            await using var ch = await conn.CreateChannelAsync();
            // Its amq.* exchanges exist on every node, and a durable queue in it is usable from any.
            await ch.ExchangeDeclarePassiveAsync("amq.fanout");
            await ch.QueueDeclareAsync("shared", durable: true, exclusive: false, autoDelete: false);
        }

        await NodeCli.OkAsync(_cluster[1].Uri, "vhosts", "delete", vhost);
        foreach (var close in closes)
        {
            var e = await Wait.For(close, TimeSpan.FromSeconds(15));
            Assert.Equal((320, $"CONNECTION_FORCED - vhost '{vhost}' is deleted"), (e.ReplyCode, e.ReplyText));
        }

        for (int node = 0; node < 3; node++)
        {
            Assert.Equal(530, Assert.IsType<Broker.Protocol.Methods.ConnectionClose>(await RawAmqpClient.OpenReplyAsync(_cluster[node].Port, vhost)).ReplyCode);
            await connections[node].DisposeAsync();
        }
    }
}
