using System.Net;
using System.Text.Json.Nodes;
using RabbitMQ.Client;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// Memory and disk alarms, as RabbitMQ's: while one is in effect a connection that publishes is no
/// longer read and hears connection.blocked, consumers go on, and connection.unblocked follows when
/// it clears. Each test runs its own node process, so its alarm touches nobody else; the limits are
/// moved with the node's command line (`alarms set-...`), as an operator would.
/// </summary>
public sealed class AlarmTests
{
    private static BasicProperties Persistent => new() { DeliveryMode = DeliveryModes.Persistent };

    [Fact]
    public async Task A_memory_alarm_blocks_publishing_connections_and_not_consuming_ones_until_it_clears()
    {
        await using var node = await NodeProcess.StartAsync();
        var factory = new ConnectionFactory { Uri = new Uri(node.Uri), AutomaticRecoveryEnabled = false };
        await using var publisher = await factory.CreateConnectionAsync("alarm-publisher");
        await using var consumer = await factory.CreateConnectionAsync("alarm-consumer");
        var blocked = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var unblocked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        publisher.ConnectionBlockedAsync += (_, e) =>
        {
            blocked.TrySetResult(e.Reason);
            return Task.CompletedTask;
        };
        publisher.ConnectionUnblockedAsync += (_, _) =>
        {
            unblocked.TrySetResult();
            return Task.CompletedTask;
        };
        bool consumerBlocked = false;
        consumer.ConnectionBlockedAsync += (_, _) =>
        {
            consumerBlocked = true;
            return Task.CompletedTask;
        };

        const string q = "alarm-q";
        var pub = await publisher.CreateChannelAsync(new CreateChannelOptions(true, true));
        await pub.QueueDeclareAsync(q, durable: true, exclusive: false, autoDelete: false);
        for (int i = 0; i < 3; i++)
        {
            await pub.BasicPublishAsync("", q, true, Persistent, Body("before-" + i));
        }

        string listing = await NodeCli.OkAsync(node.Uri, "alarms", "set-memory-watermark", "1MB");
        Assert.Contains("\tmemory", listing);
        using var api = new ManagementClient(node.ManagementUri);
        var (status, health, _) = await api.SendAsync(HttpMethod.Get, "/api/health/checks/alarms");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("memory", (string?)health!["alarms"]![0]!["resource"]);
        Assert.True((bool)(await api.GetAsync("/api/nodes"))[0]!["mem_alarm"]!);

        // The publish that shows the connection publishes is still taken (as in RabbitMQ); then it is no longer read.
        await pub.BasicPublishAsync("", q, true, Persistent, Body("during-1"));
        Assert.Equal("low on memory", await Wait.For(blocked.Task));
        var held = pub.BasicPublishAsync("", q, true, Persistent, Body("during-2")).AsTask();

        // Consumers go on: every message taken so far is delivered and its ack is taken.
        var cch = await consumer.CreateChannelAsync();
        var (_, deliveries) = await ConsumeAsync(cch, q);
        foreach (string expected in new[] { "before-0", "before-1", "before-2", "during-1" })
        {
            var d = await deliveries.NextAsync();
            Assert.Equal(expected, Text(d.Body));
            await cch.BasicAckAsync(d.DeliveryTag, false);
        }

        await Wait.Until(async () => ConnectionStates(await api.GetAsync("/api/connections")) is var s
            && s.GetValueOrDefault("alarm-publisher") == "blocked" && s.GetValueOrDefault("alarm-consumer") == "blocking",
            "the management API to show the publisher blocked and the consumer blocking");
        Assert.False(held.IsCompleted, "a publish on the blocked connection was confirmed while the alarm was in effect");
        Assert.False(consumerBlocked, "a connection that only consumes was blocked");

        await NodeCli.OkAsync(node.Uri, "alarms", "set-memory-watermark", "0.4");
        await Wait.For(unblocked.Task);
        await Wait.For(held);
        Assert.Equal("during-2", Text((await deliveries.NextAsync()).Body));
        Assert.Equal(HttpStatusCode.OK, await api.StatusOf(HttpMethod.Get, "/api/health/checks/alarms"));
        // The management API's view is up to a second old.
        await Wait.Until(async () => ConnectionStates(await api.GetAsync("/api/connections"))["alarm-publisher"] == "running",
            "the management API to show the publisher running again");
        Assert.Contains("memory resource limit alarm set on node", node.Output);
        Assert.Contains("memory resource limit alarm cleared on node", node.Output);
    }

    /// <summary>
    /// tests/interop/pika-blocked.py (passes against RabbitMQ 3.10.8 too): a node started below its
    /// disk free limit blocks pika's publisher, pika's blocked_connection_timeout gives up on it, and
    /// a second publisher is unblocked when the script clears the alarm with the command line.
    /// </summary>
    [Fact]
    public async Task Pika_is_blocked_by_a_disk_alarm_gives_up_after_its_timeout_and_is_unblocked_when_it_clears()
    {
        string root = InteropTests.FindRepoRoot();
        await InteropTests.RequirePythonModulesAsync(root, "pika");
        // No disk has a million terabytes free: the disk alarm is in effect from the start.
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string> { ["BROKER_DISK_FREE_LIMIT"] = "1000000TB" });
        var (exitCode, output) = await InteropTests.RunAsync(InteropTests.DebianPython,
        [
            Path.Combine(root, "tests", "interop", "pika-blocked.py"), node.Port.ToString(), "low on disk",
            "dotnet", NodeProcess.NodeDll, "alarms", "set-disk-free-limit", "50MB", "--uri", node.Uri,
        ], root, TimeSpan.FromSeconds(180));
        Assert.True(exitCode == 0, $"pika script exited with code {exitCode}; output:\n{output}");
        Assert.Contains("blocked_connection_timeout: ConnectionBlockedTimeout", output);
        Assert.Contains("blocked: low on disk", output);
        Assert.Contains("unblocked", output);
        Assert.Contains("disk resource limit alarm set on node", node.Output);
        Assert.Contains("disk resource limit alarm cleared on node", node.Output);
    }

    /// <summary>Connection states by client-provided name.</summary>
    private static Dictionary<string, string> ConnectionStates(JsonNode connections) => connections.AsArray()
        .Where(c => c?["client_properties"]?["connection_name"] is not null)
        .ToDictionary(c => (string)c!["client_properties"]!["connection_name"]!, c => (string)c!["state"]!);
}
