using System.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>A node of their own: failed logins slow later ones from the same address, and vhosts come and go.</summary>
public sealed class AccessFixture : BrokerFixture
{
}

/// <summary>
/// Users, vhosts and permissions managed with the node's command line (`Broker.Node users|vhosts|
/// permissions ...`, like rabbitmqctl) against a running node, and what clients see: logins,
/// 530 for a vhost without permissions, 403 for an operation without them, limits, a deleted vhost
/// closing its connections and taking its queues, the store surviving a restart.
/// </summary>
public sealed class AccessTests : IClassFixture<AccessFixture>
{
    private readonly AccessFixture _broker;

    public AccessTests(AccessFixture broker) => _broker = broker;

    private Task<string> Ok(params string[] args) => NodeCli.OkAsync(_broker.Uri, args);

    private ConnectionFactory Factory(string user, string password, string vhost = "/")
    {
        var f = _broker.Factory(user, password);
        f.VirtualHost = vhost;
        return f;
    }

    [Fact]
    public async Task A_user_added_with_the_command_line_logs_in_and_a_deleted_one_no_longer_does()
    {
        string user = UniqueName("user");
        await Ok("users", "add", user, "p4ss", "--tags", "monitoring");
        await Ok("permissions", "set", user, ".*", ".*", ".*");
        Assert.Contains($"{user}\t[\"monitoring\"]", await Ok("users", "list"));

        await using (var conn = await Factory(user, "p4ss").CreateConnectionAsync())
        {
            Assert.True(conn.IsOpen);
        }

        await ConnectFailure<AuthenticationFailureException>(Factory(user, "wrong"));
        await Ok("users", "password", user, "n3w");
        await ConnectFailure<AuthenticationFailureException>(Factory(user, "p4ss"));
        await using (var conn = await Factory(user, "n3w").CreateConnectionAsync())
        {
            Assert.True(conn.IsOpen);
        }

        // A blank password is refused, as by RabbitMQ.
        var (blank, blankOutput) = await NodeCli.RunAsync(_broker.Uri, "users", "password", user, "");
        Assert.Equal(1, blank);
        Assert.Contains("a password must not be empty", blankOutput);

        await Ok("users", "delete", user);
        await ConnectFailure<AuthenticationFailureException>(Factory(user, "n3w"));
        Assert.DoesNotContain(user, await Ok("users", "list"));
    }

    [Fact]
    public async Task Only_administrators_may_manage_users_and_policymakers_may_set_policies()
    {
        string user = UniqueName("pm");
        await Ok("users", "add", user, "pw", "--tags", "policymaker");
        await Ok("permissions", "set", user, ".*", ".*", ".*");
        string uri = $"amqp://{user}:pw@127.0.0.1:{_broker.Port}/";
        var (code, output) = await NodeCli.RunAsync(uri, "users", "add", UniqueName("x"), "pw");
        Assert.Equal(1, code);
        Assert.Contains($"user '{user}' is not an administrator", output);
        string policy = UniqueName("pol");
        await NodeCli.OkAsync(uri, "policies", "set", policy, "^nothing$", "{\"max-length\":1}");
        await NodeCli.OkAsync(uri, "policies", "clear", policy);
        // Only in vhosts where it has permissions, as in RabbitMQ.
        string elsewhere = UniqueName("pm-vh");
        await Ok("vhosts", "add", elsewhere);
        (code, output) = await NodeCli.RunAsync(uri, "policies", "list", "--vhost", elsewhere);
        Assert.Equal(1, code);
        Assert.Contains($"user '{user}' has no permissions in vhost '{elsewhere}'", output);

        await Ok("users", "tags", user);
        (code, output) = await NodeCli.RunAsync(uri, "policies", "set", policy, "^nothing$", "{\"max-length\":1}");
        Assert.Equal(1, code);
        Assert.Contains("neither an administrator nor a policymaker", output);
    }

    [Fact]
    public async Task Opening_a_vhost_needs_permissions_there_and_an_unknown_vhost_is_not_found()
    {
        string user = UniqueName("nv");
        string vhost = UniqueName("vh");
        await Ok("users", "add", user, "pw");
        await Ok("vhosts", "add", vhost);
        var refused = Assert.IsType<Broker.Protocol.Methods.ConnectionClose>(await RawAmqpClient.OpenReplyAsync(_broker.Port, vhost, user, "pw"));
        Assert.Equal((530, $"NOT_ALLOWED - access to vhost '{vhost}' refused for user '{user}'"), (refused.ReplyCode, refused.ReplyText));

        await Ok("permissions", "set", user, "", "", "^q$", "--vhost", vhost);
        await using var conn = await Factory(user, "pw", vhost).CreateConnectionAsync();
        await using var ch = await conn.CreateChannelAsync();
        // The vhost got its amq.* exchanges when it was added.
        await ch.ExchangeDeclarePassiveAsync("amq.topic");
        var (code, text) = await ChannelError(ch, () => ch.QueueDeclareAsync("q", false, false, false));
        Assert.Equal(403, code);
        Assert.Equal($"ACCESS_REFUSED - access to queue 'q' in vhost '{vhost}' refused for user '{user}'", text);
    }

    [Fact]
    public async Task Deleting_a_vhost_closes_its_connections_and_deletes_its_queues_and_exchanges()
    {
        string vhost = UniqueName("gone");
        await Ok("vhosts", "add", vhost);
        await Ok("permissions", "set", "guest", ".*", ".*", ".*", "--vhost", vhost);
        var conn = await Factory("guest", "guest", vhost).CreateConnectionAsync();
        var closed = new TaskCompletionSource<RabbitMQ.Client.Events.ShutdownEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        conn.ConnectionShutdownAsync += (_, e) =>
        {
            closed.TrySetResult(e);
            return Task.CompletedTask;
        };
        var ch = await conn.CreateChannelAsync();
        await ch.QueueDeclareAsync("durable-q", true, false, false);
        await ch.ExchangeDeclareAsync("x", ExchangeType.Fanout, durable: true);
        await ch.BasicPublishAsync("", "durable-q", true, new BasicProperties { Persistent = true }, Body("m"));

        await Ok("vhosts", "delete", vhost);
        var shutdown = await Wait.For(closed.Task);
        Assert.Equal(320, shutdown.ReplyCode);
        Assert.Contains($"vhost '{vhost}' is deleted", shutdown.ReplyText);
        Assert.Equal(530, Assert.IsType<Broker.Protocol.Methods.ConnectionClose>(await RawAmqpClient.OpenReplyAsync(_broker.Port, vhost)).ReplyCode);

        // Added again, it is empty: the queue, its message and the exchange went with it.
        await Ok("vhosts", "add", vhost);
        await Ok("permissions", "set", "guest", ".*", ".*", ".*", "--vhost", vhost);
        await using var again = await Factory("guest", "guest", vhost).CreateConnectionAsync();
        await using var ch2 = await again.CreateChannelAsync();
        Assert.Equal(404, await ChannelErrorCode(ch2, () => ch2.QueueDeclarePassiveAsync("durable-q")));
        await using var ch3 = await again.CreateChannelAsync();
        Assert.Equal(404, await ChannelErrorCode(ch3, () => ch3.ExchangeDeclarePassiveAsync("x")));
    }

    [Fact]
    public async Task Vhost_limits_refuse_the_connection_and_the_queue_beyond_them()
    {
        string vhost = UniqueName("lim");
        await Ok("vhosts", "add", vhost);
        await Ok("permissions", "set", "guest", ".*", ".*", ".*", "--vhost", vhost);
        await Ok("vhosts", "limits", vhost, "{\"max-connections\":1,\"max-queues\":1}");
        await using var conn = await Factory("guest", "guest", vhost).CreateConnectionAsync();
        var refused = Assert.IsType<Broker.Protocol.Methods.ConnectionClose>(await RawAmqpClient.OpenReplyAsync(_broker.Port, vhost));
        Assert.Equal((530, "NOT_ALLOWED - " + Actors.Access.VHostLimits.ConnectionLimitText(vhost, "guest", 1)), (refused.ReplyCode, refused.ReplyText));

        await using var ch = await conn.CreateChannelAsync();
        await ch.QueueDeclareAsync("one", false, false, false);
        await ch.QueueDeclareAsync("one", false, false, false); // a redeclare is not a new queue
        var (code, text) = await ChannelError(ch, () => ch.QueueDeclareAsync("two", false, false, false));
        Assert.Equal(406, code);
        Assert.Contains(VHostQueueLimitText(vhost, "two", 1), text);

        await Ok("vhosts", "limits", vhost, "{\"max-connections\":-1,\"max-queues\":-1}");
        await using var second = await Factory("guest", "guest", vhost).CreateConnectionAsync();
        await using var ch2 = await second.CreateChannelAsync();
        await ch2.QueueDeclareAsync("two", false, false, false);
    }

    [Fact]
    public async Task Repeated_failed_logins_for_a_user_hold_back_every_answer_for_it()
    {
        // Held back per user and address: other tests logging in from this address are not slowed.
        var node = _broker;
        string user = UniqueName("slow");
        await NodeCli.OkAsync(node.Uri, "users", "add", user, "right");
        await NodeCli.OkAsync(node.Uri, "permissions", "set", user, ".*", ".*", ".*");
        for (int i = 0; i < Actors.Connection.LoginThrottle.FreeFailures; i++)
        {
            await ConnectFailure<AuthenticationFailureException>(node.Factory(user, "wrong"));
        }

        // The next refusal is held back (lower bounds only: the answer comes no sooner than a second)...
        var clock = Stopwatch.StartNew();
        await ConnectFailure<AuthenticationFailureException>(node.Factory(user, "wrong"));
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), $"refused after {clock.Elapsed}");

        // ...and so is a success, so its timing tells a guesser nothing.
        clock.Restart();
        await using (await node.Factory(user, "right").CreateConnectionAsync())
        {
        }

        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), $"logged in after {clock.Elapsed}");
    }

    [Fact]
    public async Task The_store_survives_a_restart_and_the_default_user_is_not_created_again()
    {
        string dataDir = Path.Combine(Path.GetTempPath(), "broker-access-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var node = await BrokerFixture.StartAsync(new Dictionary<string, string>(), dataDir))
            {
                await NodeCli.OkAsync(node.Uri, "users", "add", "keeper", "pw", "--tags", "administrator");
                await NodeCli.OkAsync(node.Uri, "permissions", "set", "keeper", ".*", ".*", ".*");
                await NodeCli.OkAsync(node.Uri, "vhosts", "add", "kept");
                await NodeCli.OkAsync(node.Uri, "users", "password", "guest", "changed");
            }

            await using (var node = await BrokerFixture.StartAsync(new Dictionary<string, string>(), dataDir))
            {
                await using (await node.Factory("keeper", "pw").CreateConnectionAsync())
                {
                }

                // BROKER_DEFAULT_PASS (guest) is only for a new store: the changed password stays.
                await ConnectFailure<AuthenticationFailureException>(node.Factory("guest", "guest"));
                await using (await node.Factory("guest", "changed").CreateConnectionAsync())
                {
                }

                Assert.Contains("kept", await NodeCli.OkAsync($"amqp://keeper:pw@127.0.0.1:{node.Port}/", "vhosts", "list"));
            }
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static string VHostQueueLimitText(string vhost, string queue, long limit) =>
        Actors.Access.VHostLimits.QueueLimitText(vhost, queue, limit);
}
