using System.Diagnostics;
using System.Globalization;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Broker.Bench;

/// <summary>
/// `soak` mode (issue 11, point 7): producers and consumers on a few durable and transient queues
/// for a bounded time while a chaos loop kills random clients and they reconnect; the broker's
/// RSS, threads, fds, connections and queue depth are sampled throughout. Then producers stop,
/// consumers drain, and the summary says whether memory grew after warm-up and whether every
/// confirmed message was consumed. Options: <see cref="SoakOptions.Usage"/>.
/// </summary>
internal static class Soak
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Producers stopping (confirm grace and close) and consumers closing take at most this long each.</summary>
    private static readonly TimeSpan StopLimit = TimeSpan.FromSeconds(30);

    /// <summary>After teardown, how long the broker may take to show its connections and exclusive queues gone.</summary>
    private static readonly TimeSpan SettleLimit = TimeSpan.FromSeconds(15);

    public static async Task<int> RunAsync(string[] args)
    {
        SoakOptions? o = SoakOptions.Parse(args, out bool help, out string? error);
        if (help)
        {
            Console.WriteLine(SoakOptions.Usage);
            return 0;
        }
        if (o is null)
        {
            Console.Error.WriteLine($"error: {error}");
            Console.Error.WriteLine();
            Console.Error.WriteLine(SoakOptions.Usage);
            return 2;
        }

        // Bounded whatever the broker does: load, stop, drain, teardown and settle, plus a margin.
        TimeSpan budget = TimeSpan.FromSeconds(o.Duration + o.Drain) + 2 * StopLimit + SettleLimit + TimeSpan.FromSeconds(60);
        using var watchdog = new Timer(_ =>
        {
            Console.Error.WriteLine($"error: soak exceeded its hard limit of {budget.TotalSeconds:0} s (broker hung?); exiting");
            Environment.Exit(1);
        }, null, budget, Timeout.InfiniteTimeSpan);

        Console.WriteLine("soak: " + o.Describe());
        var random = new Random(o.Seed);
        double Next()
        {
            lock (random)
            {
                return random.NextDouble();
            }
        }

        DateTime startedUtc = DateTime.UtcNow;
        long started = Stopwatch.GetTimestamp();
        var report = new SoakReport(startedUtc);
        var ledger = new SoakLedger(o.Producers);
        using var node = new NodeStats(o.NodePid, o.DataDir, o.ManagementUri, o.Uri);
        var consumers = new List<ClientSlot>();
        var producers = new List<ClientSlot>();
        var sampler = new SoakSampler(node, ledger, report, () => consumers.Concat(producers).Count(s => s.Live is not null), started);
        NodeSample before = (await sampler.StartAsync().ConfigureAwait(false)).Node;

        IConnection admin;
        try
        {
            admin = await Factory(o).CreateConnectionAsync("soak-admin").ConfigureAwait(false);
            await DeclareQueuesAsync(admin, o).ConfigureAwait(false);
        }
        catch (Exception e) when (e is BrokerUnreachableException or OperationInterruptedException or TimeoutException or AlreadyClosedException)
        {
            Console.Error.WriteLine($"error: setup: {e.GetType().Name}: {e.Message}");
            return 1;
        }

        for (int i = 0; i < o.Consumers; i++)
        {
            int slot = i;
            string queue = o.QueueName(i % o.QueueCount);
            consumers.Add(new ClientSlot(() => new SoakConsumer(slot, queue, o, ledger, report), () => Factory(o),
                () => TimeSpan.FromSeconds(Next() * o.RestartDelay), report));
        }
        for (int i = 0; i < o.Producers; i++)
        {
            int slot = i, queueIndex = i % o.QueueCount;
            producers.Add(new ClientSlot(
                () => new SoakProducer(slot, o.QueueName(queueIndex), o.IsDurable(queueIndex), o, ledger, (int)(Next() * int.MaxValue), report),
                () => Factory(o), () => TimeSpan.FromSeconds(Next() * o.RestartDelay), report));
        }
        ClientSlot[] all = [.. producers, .. consumers];

        using var samplerStop = new CancellationTokenSource();
        Task sampling = sampler.RunAsync(TimeSpan.FromSeconds(o.SampleEvery), samplerStop.Token);

        // Consumers first, so that the first messages find them.
        using var consumerStop = new CancellationTokenSource();
        Task[] consuming = consumers.Select(s => Task.Run(() => s.RunAsync(consumerStop.Token))).ToArray();
        using var producerStop = new CancellationTokenSource();
        Task[] producing = producers.Select(s => Task.Run(() => s.RunAsync(producerStop.Token))).ToArray();
        using var chaosStop = new CancellationTokenSource();
        Task chaos = new ChaosLoop(all, o.KillEvery, Next, report, startedUtc).RunAsync(chaosStop.Token);

        await Task.Delay(TimeSpan.FromSeconds(o.Duration)).ConfigureAwait(false);

        // No kills from here on: producers finish their confirms, consumers drain what was confirmed.
        await chaosStop.CancelAsync().ConfigureAwait(false);
        await chaos.ConfigureAwait(false);
        sampler.Phase = "stop";
        await producerStop.CancelAsync().ConfigureAwait(false);
        await WaitAll(producing, StopLimit, "producers", report).ConfigureAwait(false);

        sampler.Phase = "drain";
        var drain = Stopwatch.StartNew();
        while (ledger.Missing() > 0 && drain.Elapsed < TimeSpan.FromSeconds(o.Drain))
        {
            await Task.Delay(250).ConfigureAwait(false);
        }
        Console.Error.WriteLine(string.Create(Inv, $"soak: drain took {drain.Elapsed.TotalSeconds:0.0} s, {ledger.Missing()} confirmed messages not consumed"));
        long lostDurable = ledger.Missing(s => o.IsDurable(s % o.QueueCount));
        long lostTransient = ledger.Missing(s => !o.IsDurable(s % o.QueueCount));

        sampler.Phase = "end";
        await consumerStop.CancelAsync().ConfigureAwait(false);
        await WaitAll(consuming, StopLimit, "consumers", report).ConfigureAwait(false);
        await DeleteQueuesAsync(admin, o, report).ConfigureAwait(false);

        // Every client and the exclusive queues of killed consumers should be gone on the broker too.
        LeftBehind left = await SettleAsync(node, before).ConfigureAwait(false);
        await samplerStop.CancelAsync().ConfigureAwait(false);
        await sampling.ConfigureAwait(false);
        sampler.Phase = "after";
        await sampler.TakeAsync().ConfigureAwait(false);

        var summary = new SoakSummary(o, sampler.Samples, ledger, report, lostDurable, lostTransient, left);
        summary.Print();
        if (o.Json)
        {
            Console.WriteLine(summary.ToJson());
        }
        return summary.Ok ? 0 : 1;
    }

    private static ConnectionFactory Factory(SoakOptions o) => new()
    {
        Uri = o.Uri,
        AutomaticRecoveryEnabled = false, // the soak replaces killed clients itself
        TopologyRecoveryEnabled = false,
        // Generous: the machine may be busy with other work; a broker that takes longer is reported.
        RequestedConnectionTimeout = TimeSpan.FromSeconds(15),
        ContinuationTimeout = TimeSpan.FromSeconds(15),
        HandshakeContinuationTimeout = TimeSpan.FromSeconds(15),
    };

    private static async Task DeclareQueuesAsync(IConnection admin, SoakOptions o)
    {
        IChannel ch = await admin.CreateChannelAsync().ConfigureAwait(false);
        for (int q = 0; q < o.QueueCount; q++)
        {
            string name = o.QueueName(q);
            try
            {
                await ch.QueueDeclareAsync(name, o.IsDurable(q), false, false).ConfigureAwait(false);
            }
            catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 406)
            {
                // Left over with other properties: replace it.
                ch = await admin.CreateChannelAsync().ConfigureAwait(false);
                await ch.QueueDeleteAsync(name, false, false).ConfigureAwait(false);
                await ch.QueueDeclareAsync(name, o.IsDurable(q), false, false).ConfigureAwait(false);
            }
            await ch.QueuePurgeAsync(name).ConfigureAwait(false);
        }
        await ch.CloseAsync().ConfigureAwait(false);
    }

    private static async Task DeleteQueuesAsync(IConnection admin, SoakOptions o, SoakReport report)
    {
        try
        {
            IChannel ch = await admin.CreateChannelAsync().ConfigureAwait(false);
            for (int q = 0; q < o.QueueCount; q++)
            {
                await ch.QueueDeleteAsync(o.QueueName(q), false, false).ConfigureAwait(false);
            }
            await admin.CloseAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationInterruptedException or AlreadyClosedException or TimeoutException)
        {
            report.Error($"teardown: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            admin.Dispose();
        }
    }

    /// <summary>Waits until the broker shows no more connections and queues than before the soak; returns what is left.</summary>
    private static async Task<LeftBehind> SettleAsync(NodeStats node, NodeSample before)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            NodeSample now = await node.TakeAsync().ConfigureAwait(false);
            var left = new LeftBehind(
                now.Connections < 0 || before.Connections < 0 ? -1 : now.Connections - before.Connections,
                now.Queues < 0 || before.Queues < 0 ? -1 : now.Queues - before.Queues);
            if ((left.Connections <= 0 && left.Queues <= 0) || clock.Elapsed > SettleLimit)
            {
                return left;
            }
            await Task.Delay(500).ConfigureAwait(false);
        }
    }

    private static async Task WaitAll(Task[] tasks, TimeSpan limit, string what, SoakReport report)
    {
        try
        {
            await Task.WhenAll(tasks).WaitAsync(limit).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            report.Error($"{what} did not stop within {limit.TotalSeconds:0} s");
        }
    }
}
