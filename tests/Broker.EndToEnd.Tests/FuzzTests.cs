using System.Text.Json.Nodes;
using Broker.EndToEnd.Tests.Fuzz;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// Fuzzing over TCP (issue 11, point 6): a node process takes fuzzed connections (targeted faults
/// with RabbitMQ's exact reply codes, random damage to valid sessions, mid-frame disconnects; see
/// Fuzz/AmqpFuzzer) for BROKER_FUZZ_SECONDS while a well-behaved RabbitMQ.Client publishes
/// persistent messages with confirms and another consumes them. Afterwards: the process is alive,
/// every fuzzed connection ended as it must and within its bound, the good client lost nothing and
/// was never disturbed, the node holds no connection, channel, queue or descriptor of the fuzzed
/// ones, and its memory is back near where it was before the fuzzing.
/// </summary>
public sealed class FuzzTests
{
    private const string GoodQueue = "fuzz-good";

    /// <summary>
    /// How far above its pre-fuzz figure the node's resident memory may stay, measured after a full
    /// collection forced in the node: what the good client's traffic grows (about 9 MiB over a
    /// minute, measured without fuzzing) and what the collector keeps committed. Today about 30 MiB
    /// of a default run's growth is the known leak of ConnectionLeakTests (a closed connection's
    /// stream graph stays); a longer run (BROKER_FUZZ_SECONDS=180: +87 MiB) goes over and fails
    /// until that is fixed.
    /// </summary>
    private const long MemoryTolerance = 64L << 20;

    private readonly ITestOutputHelper _out;

    public FuzzTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public async Task FuzzedConnectionsAreAnsweredAndTheNodeStaysWholeWhileAGoodClientLosesNothing()
    {
        int seed = FuzzSettings.Seed;
        var replay = FuzzSettings.Replay;
        _out.WriteLine($"fuzz seed {seed}: replay a case with BROKER_FUZZ_SEED={seed} BROKER_FUZZ_CASES=<case numbers>");
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string>
        {
            ["BROKER_MAX_MESSAGE_SIZE"] = ContentFaults.MaxMessageSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["BROKER_LOG_LEVEL"] = "WARNING",
        });
        using var api = new ManagementClient(node.ManagementUri);
        var factory = new ConnectionFactory { Uri = new Uri(node.Uri), AutomaticRecoveryEnabled = false, TopologyRecoveryEnabled = false };
        await using var publishing = await factory.CreateConnectionAsync();
        await using var channel = await publishing.CreateChannelAsync(new CreateChannelOptions(true, true));
        await channel.QueueDeclareAsync(GoodQueue, durable: true, exclusive: false, autoDelete: false);
        await using var consuming = await factory.CreateConnectionAsync();
        await using var consumer = new ResilientConsumer(consuming, GoodQueue);
        var run = new FuzzRun(node.Port, seed);

        if (replay is not null)
        {
            await run.RunCasesAsync(replay, FuzzSettings.Connections);
            foreach (var r in run.Results)
            {
                _out.WriteLine((r.Passed ? "passed: " : "FAILED: ") + r);
            }

            Assert.True(run.Results.All(r => r.Passed), "a replayed case failed (see the output)");
            Assert.False(node.HasExited, $"the node died\n{node.Output}");
            return;
        }

        var duration = FuzzSettings.Duration;
        await using var publisher = new ConfirmingPublisher(channel, new[] { GoodQueue }, window: 20, maxDuration: duration * 2 + TimeSpan.FromMinutes(2));

        // A short round first, so that what the node keeps for good (JIT code, pools, caches) is
        // in place before the figures the end is compared with are taken.
        await run.RunForAsync(TimeSpan.FromSeconds(Math.Min(10, duration.TotalSeconds / 4)), FuzzSettings.Connections);
        var before = await SettledAsync(node, api);
        _out.WriteLine($"before: {before}");

        await run.RunForAsync(duration, FuzzSettings.Connections);
        var results = run.Results;
        _out.WriteLine($"{results.Count} fuzzed connections in {duration.TotalSeconds:0} s (+ warm-up), " +
            $"{FuzzSettings.Connections} at a time; by kind:\n{run.Summary()}");
        var failed = results.Where(r => !r.Passed).ToList();
        Assert.True(failed.Count == 0,
            $"{failed.Count} of {results.Count} fuzzed connections did not end as they must (seed {seed}; replay with " +
            $"BROKER_FUZZ_SEED={seed} BROKER_FUZZ_CASES={string.Join(',', failed.Take(20).Select(f => f.Index))}):\n" +
            string.Join("\n", failed.Take(20)));
        Assert.False(node.HasExited, $"the node died\n{node.Output}");

        var after = await SettledAsync(node, api);
        _out.WriteLine($"after: {after}");
        Assert.Equal(before.Queues, after.Queues);
        Assert.True(after.OpenFiles <= before.OpenFiles + 4, $"file descriptors: {before.OpenFiles} before, {after.OpenFiles} after");
        long rss = await SettledMemoryAsync(node.Pid, before.Resident + MemoryTolerance);
        _out.WriteLine($"memory: {ProcessStats.Mib(before.Resident)} before, {ProcessStats.Mib(rss)} after");
        Assert.True(rss <= before.Resident + MemoryTolerance,
            $"resident memory {ProcessStats.Mib(rss)} after fuzzing, {ProcessStats.Mib(before.Resident)} before: more than {ProcessStats.Mib(MemoryTolerance)} up");

        await publisher.StopAsync();
        var confirmed = publisher.Confirmed;
        await Wait.Until(() => consumer.Seen.IsSupersetOf(confirmed.Keys), "the consumer to receive every confirmed message", TimeSpan.FromSeconds(60));
        var deliveries = consumer.Deliveries;
        var twice = deliveries.GroupBy(d => d.Seq).Where(g => g.Count() > 1 && g.Skip(1).Any(d => !d.Redelivered)).Select(g => g.Key).ToList();
        _out.WriteLine($"good client: {confirmed.Count} confirmed, {deliveries.Count} delivered, {publisher.Failed} nacked or failed");
        Assert.True(confirmed.Count > 100, $"the good client made little progress: {confirmed.Count} confirms");
        Assert.Equal(0, publisher.Failed);
        Assert.Empty(twice);
        Assert.Equal(0, consumer.ChannelErrors + consumer.Cancellations + consumer.Resubscriptions);
        Assert.True(publishing.IsOpen && consuming.IsOpen, "a good connection was closed");
        Assert.False(node.HasExited, $"the node died\n{node.Output}");
    }

    private sealed record Figures(int Connections, int Channels, string Queues, int OpenFiles, long Resident)
    {
        public override string ToString() =>
            $"{Connections} connections, {Channels} channels, queues [{Queues}], {OpenFiles} open files, resident {ProcessStats.Mib(Resident)}";
    }

    /// <summary>
    /// Once the fuzzed connections are all gone (the node closes each within its close timeout,
    /// and the API lists only the good client's two): what the node holds.
    /// </summary>
    private static async Task<Figures> SettledAsync(NodeProcess node, ManagementClient api)
    {
        await Wait.Until(async () => (await api.GetAsync("/api/connections")).AsArray().Count == 2 &&
                                     (await api.GetAsync("/api/channels")).AsArray().Count == 2,
            "the node to list only the good client's connections and channels", TimeSpan.FromSeconds(30));
        var queues = (await api.GetAsync("/api/queues")).AsArray().Select(q => q!["name"]!.GetValue<string>()).Order(StringComparer.Ordinal);
        await NodeGarbage.CollectAsync(node.Pid);
        return new Figures(2, 2, string.Join(", ", queues), ProcessStats.OpenFiles(node.Pid), ProcessStats.ResidentBytes(node.Pid));
    }

    /// <summary>
    /// Resident memory after a full garbage collection in the node, once it is at or under
    /// <paramref name="limit"/>; tried for up to half a minute (a collection's freed memory goes back
    /// to the system over the following moments). The lowest figure seen if it never is.
    /// </summary>
    private static async Task<long> SettledMemoryAsync(int pid, long limit)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        long lowest = long.MaxValue;
        while (true)
        {
            await NodeGarbage.CollectAsync(pid);
            lowest = Math.Min(lowest, ProcessStats.ResidentBytes(pid));
            if (lowest <= limit || DateTime.UtcNow > deadline)
            {
                return lowest;
            }

            await Task.Delay(1000);
        }
    }
}
