using System.Diagnostics;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace Broker.EndToEnd.Tests;

/// <summary>The real node as an OS process: it serves clients, exits 0 on SIGTERM and dies on SIGKILL.</summary>
public sealed class NodeProcessTests
{
    private readonly ITestOutputHelper _log;

    public NodeProcessTests(ITestOutputHelper log) => _log = log;

    private static ConnectionFactory Factory(NodeProcess node) => new()
    {
        Uri = new Uri(node.Uri),
        AutomaticRecoveryEnabled = false,
        TopologyRecoveryEnabled = false,
    };

    [Fact]
    public async Task Node_process_serves_a_client_and_exits_0_on_sigterm()
    {
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string>());
        Assert.Contains(NodeProcess.ReadyLinePrefix, node.Output);
        // Start-up is a short banner, not Akka's INFO lines (those only at DEBUG).
        Assert.Contains("broker: journal: SQLite journal", node.Output);
        Assert.Contains("broker: cluster 'broker@", node.Output);
        Assert.Contains("broker: limits: memory high watermark", node.Output);
        Assert.DoesNotContain("Starting remoting", node.Output);
        Assert.DoesNotContain("Singleton manager started", node.Output);
        Assert.True(node.StartupTime > TimeSpan.Zero);
        _log.WriteLine($"node process ready after {node.StartupTime.TotalMilliseconds:0} ms");

        await using (var connection = await Factory(node).CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            var ok = await channel.QueueDeclareAsync("node-process-q", durable: true, exclusive: false, autoDelete: false);
            Assert.Equal("node-process-q", ok.QueueName);
            await channel.CloseAsync();
            await connection.CloseAsync();
        }

        int code = await node.StopAsync();
        Assert.True(code == 0, $"exit code {code}\n{node.Output}");
        await node.WaitForOutputAsync("broker: stopped", TimeSpan.FromSeconds(5));
        Assert.True(node.HasExited);
    }

    [Fact]
    public async Task Node_process_is_gone_after_sigkill()
    {
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string>());
        int pid = node.Pid;
        await using (var connection = await Factory(node).CreateConnectionAsync())
        {
            await node.KillAsync();
            await Wait.Until(() => !connection.IsOpen, "client to see the connection drop");
        }

        Assert.True(node.HasExited);
        Assert.Equal(137, node.ExitCode); // 128 + SIGKILL
        Assert.Throws<ArgumentException>(() => Process.GetProcessById(pid));
        Assert.DoesNotContain("broker: stopped", node.Output);
    }
}
