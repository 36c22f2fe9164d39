using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Broker.Bench;

internal static class Program
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "fill")
        {
            return await Fill.RunAsync(args[1..]).ConfigureAwait(false);
        }

        if (args.Length > 0 && args[0] == "drain")
        {
            return await Drain.RunAsync(args[1..]).ConfigureAwait(false);
        }

        if (args.Length > 0 && args[0] == "probe")
        {
            return await Probe.RunAsync(args[1..]).ConfigureAwait(false);
        }

        if (args.Length > 0 && args[0] == "first")
        {
            return await FirstDelivery.RunAsync(args[1..]).ConfigureAwait(false);
        }

        if (args.Length > 0 && args[0] == "soak")
        {
            return await Soak.RunAsync(args[1..]).ConfigureAwait(false);
        }

        BenchOptions? options = BenchOptions.Parse(args, out bool help, out string? error);
        if (help)
        {
            Console.WriteLine(BenchOptions.Usage);
            return 0;
        }
        if (options is null)
        {
            Console.Error.WriteLine($"error: {error}");
            Console.Error.WriteLine();
            Console.Error.WriteLine(BenchOptions.Usage);
            return 2;
        }

        // Everything, including setup and teardown, ends within warmup + duration + 10 s.
        // The run itself aims for one second less; the watchdog kills the process at the full budget.
        TimeSpan budget = TimeSpan.FromSeconds(options.Warmup + options.Duration + 10);
        using var watchdog = new Timer(_ =>
        {
            Console.Error.WriteLine($"error: hard deadline of {budget.TotalSeconds:0.#} s exceeded (broker hung?); exiting");
            Environment.Exit(1);
        }, null, budget, Timeout.InfiniteTimeSpan);
        using var hard = new CancellationTokenSource(budget - TimeSpan.FromSeconds(1));
        var run = new BenchRun(options, hard.Token, Stopwatch.GetTimestamp() + (long)((budget - TimeSpan.FromSeconds(1)).TotalSeconds * Stopwatch.Frequency));
        return await run.ExecuteAsync().ConfigureAwait(false);
    }
}

internal readonly record struct Snapshot(long Timestamp, long Published, long Confirmed, long Received, TimeSpan ClientCpu, double BrokerCpuSeconds);

internal sealed class BenchRun(BenchOptions o, CancellationToken hard, long deadline)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan MaxDrain = TimeSpan.FromSeconds(5);

    private readonly RunControl _ctl = new(hard);
    private readonly List<IConnection> _connections = [];
    private Producer[] _producers = [];
    private Consumer[] _consumers = [];
    private IConnection? _admin;
    private string _phase = "setup";

    private TimeSpan Remaining => Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);

    public async Task<int> ExecuteAsync()
    {
        var factory = new ConnectionFactory
        {
            Uri = o.Uri,
            AutomaticRecoveryEnabled = false,
            TopologyRecoveryEnabled = false,
            RequestedConnectionTimeout = TimeSpan.FromSeconds(5),
            ContinuationTimeout = TimeSpan.FromSeconds(5),
            HandshakeContinuationTimeout = TimeSpan.FromSeconds(5),
        };
        TlsTrust.Apply(factory, o.TlsCa);

        Task[] producerTasks = [];
        using var samplerStop = new CancellationTokenSource();
        Task sampler = Task.CompletedTask;
        Snapshot s0, s1;
        bool drainedFully = true;
        TimeSpan drainTime = TimeSpan.Zero;
        try
        {
            using (var setup = CancellationTokenSource.CreateLinkedTokenSource(hard))
            {
                setup.CancelAfter(TimeSpan.FromSeconds(8));
                await SetupAsync(factory, setup.Token).ConfigureAwait(false);
            }

            sampler = SampleAsync(samplerStop.Token);
            _phase = o.Warmup > 0 ? "warmup" : "measure";
            producerTasks = new Task[_producers.Length];
            for (int i = 0; i < _producers.Length; i++)
            {
                Producer p = _producers[i];
                IChannel ch = _producerChannels[i];
                producerTasks[i] = Task.Run(() => p.RunAsync(ch));
            }

            if (o.Warmup > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(o.Warmup), hard).ConfigureAwait(false);
            }
            s0 = Take();
            _ctl.Measuring = true;
            _phase = "measure";
            await Task.Delay(TimeSpan.FromSeconds(o.Duration), hard).ConfigureAwait(false);
            _ctl.Measuring = false;
            s1 = Take();

            // Stop producers; give in-flight confirms a grace period.
            _phase = "stop";
            _ctl.Stop.Cancel();
            _ctl.Abort.CancelAfter(StopGrace);
            await WaitQuietly(Task.WhenAll(producerTasks), StopGrace + TimeSpan.FromSeconds(1)).ConfigureAwait(false);

            // Drain: wait (up to 5 s) until every accountable message has been received.
            _phase = "drain";
            long drainStart = Stopwatch.GetTimestamp();
            if (_consumers.Length > 0)
            {
                TimeSpan drainBudget = Min(MaxDrain, Remaining - TimeSpan.FromSeconds(1.5));
                long drainEnd = drainStart + (long)(Math.Max(0, drainBudget.TotalSeconds) * Stopwatch.Frequency);
                _ctl.SetDrainTarget(_producers.Sum(p => p.Expected.Count()));
                await WaitQuietly(_ctl.Drained.Task, drainBudget).ConfigureAwait(false);
                // The unique count can include received-but-unconfirmed messages; check exactly, sampling until done.
                while (Lost() > 0 && Stopwatch.GetTimestamp() < drainEnd)
                {
                    await Task.Delay(100, hard).ConfigureAwait(false);
                }
                drainedFully = Lost() == 0;
            }
            drainTime = Stopwatch.GetElapsedTime(drainStart);
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException or BrokerUnreachableException or OperationInterruptedException or AlreadyClosedException or System.Net.Sockets.SocketException)
        {
            _ctl.ReportError($"{_phase}: {ex.GetType().Name}: {ex.Message}");
            await samplerStop.CancelAsync().ConfigureAwait(false);
            await TeardownAsync().ConfigureAwait(false);
            foreach (string e in _ctl.Errors)
            {
                Console.Error.WriteLine($"error: {e}");
            }
            return 1;
        }
        finally
        {
            await samplerStop.CancelAsync().ConfigureAwait(false);
            await WaitQuietly(sampler, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }

        // Freeze the results before teardown (consumer cancellation may requeue unacked messages).
        _ctl.BeginTeardown();
        var result = new Results(o, _producers, _consumers, s0, s1, _ctl.Errors, drainedFully, drainTime);
        bool cleanTeardown = await TeardownAsync().ConfigureAwait(false);
        result.Print(cleanTeardown, _ctl.Errors);
        return result.Ok ? 0 : 1;
    }

    private readonly List<IChannel> _producerChannels = [];

    private async Task SetupAsync(ConnectionFactory factory, CancellationToken ct)
    {
        _admin = await WithUri(factory, o.DeclareUri).CreateConnectionAsync("bench-admin", ct).ConfigureAwait(false);
        _connections.Add(_admin);
        IChannel adminCh = await _admin.CreateChannelAsync(cancellationToken: ct).ConfigureAwait(false);
        for (int q = 0; q < o.Queues; q++)
        {
            string name = o.QueueName(q);
            try
            {
                await adminCh.QueueDeclareAsync(name, o.Persistent, false, false, o.QueueArguments, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 406)
            {
                // Left over from a run with the other durability: replace it.
                adminCh = await _admin.CreateChannelAsync(cancellationToken: ct).ConfigureAwait(false);
                await adminCh.QueueDeleteAsync(name, false, false, cancellationToken: ct).ConfigureAwait(false);
                await adminCh.QueueDeclareAsync(name, o.Persistent, false, false, o.QueueArguments, cancellationToken: ct).ConfigureAwait(false);
            }
            await adminCh.QueuePurgeAsync(name, ct).ConfigureAwait(false);
        }
        await adminCh.CloseAsync(ct).ConfigureAwait(false);

        _producers = new Producer[o.Producers];
        for (int i = 0; i < o.Producers; i++)
        {
            _producers[i] = new Producer(i, o.QueueName(i % o.Queues), o, _ctl);
        }

        _consumers = new Consumer[o.Consumers];
        for (int i = 0; i < o.Consumers; i++)
        {
            IConnection conn = await Connect(WithUri(factory, o.ConsumerUri), $"bench-consumer-{i}", ct).ConfigureAwait(false);
            IChannel ch = await conn.CreateChannelAsync(cancellationToken: ct).ConfigureAwait(false);
            Watch(ch, $"consumer {i}");
            _consumers[i] = new Consumer(i, _producers, o, _ctl);
            await _consumers[i].StartAsync(ch, o.QueueName(i % o.Queues), ct).ConfigureAwait(false);
        }

        var channelOptions = o.Confirms > 0
            ? new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true,
                outstandingPublisherConfirmationsRateLimiter: null) // the producer bounds in-flight confirms itself (--confirms)
            : null;
        for (int i = 0; i < o.Producers; i++)
        {
            IConnection conn = await Connect(factory, $"bench-producer-{i}", ct).ConfigureAwait(false);
            IChannel ch = await conn.CreateChannelAsync(channelOptions, ct).ConfigureAwait(false);
            Watch(ch, $"producer {i}");
            _producerChannels.Add(ch);
        }
    }

    private ConnectionFactory WithUri(ConnectionFactory f, Uri uri)
    {
        var factory = new ConnectionFactory
        {
            Uri = uri,
            AutomaticRecoveryEnabled = f.AutomaticRecoveryEnabled,
            TopologyRecoveryEnabled = f.TopologyRecoveryEnabled,
            RequestedConnectionTimeout = f.RequestedConnectionTimeout,
            ContinuationTimeout = f.ContinuationTimeout,
            HandshakeContinuationTimeout = f.HandshakeContinuationTimeout,
        };
        TlsTrust.Apply(factory, o.TlsCa);
        return factory;
    }

    private async Task<IConnection> Connect(ConnectionFactory factory, string name, CancellationToken ct)
    {
        IConnection conn = await factory.CreateConnectionAsync(name, ct).ConfigureAwait(false);
        _connections.Add(conn);
        conn.ConnectionShutdownAsync += (_, e) => OnShutdown($"{name} connection", e);
        return conn;
    }

    private void Watch(IChannel ch, string name) => ch.ChannelShutdownAsync += (_, e) => OnShutdown($"{name} channel", e);

    private Task OnShutdown(string what, ShutdownEventArgs e)
    {
        if (!_ctl.TearingDown && e.Initiator != ShutdownInitiator.Application)
        {
            _ctl.ReportError($"{what} closed by {e.Initiator}: {e.ReplyCode} {e.ReplyText}");
        }
        return Task.CompletedTask;
    }

    private long Lost() => _producers.Sum(p => p.Expected.CountMissingFrom(p.Received));

    /// <summary>Cancels consumers, deletes the queues and closes every connection, all within the remaining budget.</summary>
    private async Task<bool> TeardownAsync()
    {
        _ctl.BeginTeardown();
        TimeSpan budget = Min(TimeSpan.FromSeconds(4), Remaining);
        if (budget <= TimeSpan.Zero)
        {
            budget = TimeSpan.FromMilliseconds(200);
        }
        using var cts = new CancellationTokenSource(budget);
        CancellationToken ct = cts.Token;
        bool ok = true;
        try
        {
            await Task.WhenAll(_consumers.Select(c => c.CancelAsync(ct))).WaitAsync(ct).ConfigureAwait(false);
        }
        catch (Exception)
        {
            ok = false;
        }
        try
        {
            if (_admin is { IsOpen: true })
            {
                IChannel ch = await _admin.CreateChannelAsync(cancellationToken: ct).ConfigureAwait(false);
                for (int q = 0; q < o.Queues; q++)
                {
                    await ch.QueueDeleteAsync(o.QueueName(q), false, false, cancellationToken: ct).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"warning: could not delete queues: {ex.GetType().Name}: {ex.Message}");
            ok = false;
        }
        try
        {
            TimeSpan closeTimeout = Min(TimeSpan.FromSeconds(2), Remaining);
            if (closeTimeout <= TimeSpan.Zero)
            {
                closeTimeout = TimeSpan.FromMilliseconds(200);
            }
            await Task.WhenAll(_connections.Select(c => c.CloseAsync(closeTimeout)))
                .WaitAsync(closeTimeout + TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
        }
        catch (Exception)
        {
            ok = false;
        }
        return ok;
    }

    private Snapshot Take() => new(
        Stopwatch.GetTimestamp(),
        _producers.Sum(p => p.Published),
        _producers.Sum(p => p.Confirmed),
        _consumers.Sum(c => c.Received),
        Environment.CpuUsage.TotalTime,
        BrokerCpu.Seconds(o.BrokerPid));

    private async Task SampleAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        long start = Stopwatch.GetTimestamp();
        Snapshot prev = Take();
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                Snapshot now = Take();
                double dt = Stopwatch.GetElapsedTime(prev.Timestamp, now.Timestamp).TotalSeconds;
                string conf = o.Confirms > 0 ? string.Create(Inv, $" confirm {(now.Confirmed - prev.Confirmed) / dt,9:0}/s") : string.Empty;
                Console.Error.WriteLine(string.Create(Inv,
                    $"[{Stopwatch.GetElapsedTime(start).TotalSeconds,5:0.0}s] {_phase,-7} publish {(now.Published - prev.Published) / dt,9:0}/s{conf} consume {(now.Received - prev.Received) / dt,9:0}/s"));
                prev = now;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task WaitQuietly(Task task, TimeSpan timeout)
    {
        try
        {
            await task.WaitAsync(timeout > TimeSpan.Zero ? timeout : TimeSpan.Zero).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // timeouts and failures are accounted for by the caller (loss / errors)
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}

/// <summary>CPU time of another process from /proc/PID/stat (utime + stime), Linux only.</summary>
internal static class BrokerCpu
{
    private const double ClockTicksPerSecond = 100; // USER_HZ, 100 on every mainstream Linux

    public static double Seconds(int pid)
    {
        if (pid <= 0)
        {
            return double.NaN;
        }
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // f[0] is field 3 (state); utime and stime are fields 14 and 15.
            return (long.Parse(f[11], Inv) + long.Parse(f[12], Inv)) / ClockTicksPerSecond;
        }
        catch (Exception)
        {
            return double.NaN;
        }
    }

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
}

internal sealed class Results
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly BenchOptions _o;

    public Results(BenchOptions o, Producer[] producers, Consumer[] consumers, Snapshot s0, Snapshot s1,
        IReadOnlyList<string> errors, bool drainedFully, TimeSpan drainTime)
    {
        _o = o;
        Seconds = Stopwatch.GetElapsedTime(s0.Timestamp, s1.Timestamp).TotalSeconds;
        PublishRate = (s1.Published - s0.Published) / Seconds;
        ConfirmRate = (s1.Confirmed - s0.Confirmed) / Seconds;
        ConsumeRate = (s1.Received - s0.Received) / Seconds;
        var hist = new LatencyHistogram();
        foreach (Consumer c in consumers)
        {
            hist.Add(c.Latency);
        }
        Latency = hist;
        var confirmHist = new LatencyHistogram();
        long longest = 0;
        DateTime longestAt = default;
        foreach (Producer p in producers)
        {
            p.ConfirmLatency.AddTo(confirmHist, ref longest, ref longestAt);
        }
        ConfirmLatency = confirmHist;
        LongestConfirmAt = longestAt;
        Published = producers.Sum(p => p.Published);
        Confirmed = producers.Sum(p => p.Confirmed);
        Nacked = producers.Sum(p => p.Nacked);
        Failed = producers.Sum(p => p.Failed);
        Accountable = producers.Sum(p => p.Expected.Count());
        Received = consumers.Sum(c => c.Received);
        CheckLoss = consumers.Length > 0 && producers.Length > 0;
        Lost = CheckLoss ? producers.Sum(p => p.Expected.CountMissingFrom(p.Received)) : 0;
        Duplicates = consumers.Sum(c => c.Duplicates);
        OutOfOrder = consumers.Sum(c => c.OutOfOrder);
        Redelivered = consumers.Sum(c => c.Redelivered);
        Invalid = consumers.Sum(c => c.Invalid);
        DrainedFully = drainedFully;
        DrainSeconds = drainTime.TotalSeconds;
        ErrorCount = errors.Count;
        double msgs = Math.Max(s1.Published - s0.Published, s1.Received - s0.Received);
        ClientCpuSeconds = (s1.ClientCpu - s0.ClientCpu).TotalSeconds;
        BrokerCpuSeconds = s1.BrokerCpuSeconds - s0.BrokerCpuSeconds;
        ClientCpuMicrosPerMsg = msgs > 0 ? ClientCpuSeconds * 1e6 / msgs : double.NaN;
        BrokerCpuMicrosPerMsg = msgs > 0 ? BrokerCpuSeconds * 1e6 / msgs : double.NaN;
    }

    public double Seconds { get; }
    public double PublishRate { get; }
    public double ConfirmRate { get; }
    public double ConsumeRate { get; }
    public LatencyHistogram Latency { get; }

    /// <summary>Publish-to-confirm times (with --confirms) in the measured window.</summary>
    public LatencyHistogram ConfirmLatency { get; }

    /// <summary>When (UTC) the longest confirm of the window arrived: the stall to look up in the broker's log.</summary>
    public DateTime LongestConfirmAt { get; }
    public long Published { get; }
    public long Confirmed { get; }
    public long Nacked { get; }
    public long Failed { get; }
    public long Accountable { get; }
    public long Received { get; }
    public bool CheckLoss { get; }
    public long Lost { get; }
    public long Duplicates { get; }
    public long OutOfOrder { get; }
    public long Redelivered { get; }
    public long Invalid { get; }
    public bool DrainedFully { get; }
    public double DrainSeconds { get; }
    public int ErrorCount { get; }
    public double ClientCpuSeconds { get; }
    public double BrokerCpuSeconds { get; }
    public double ClientCpuMicrosPerMsg { get; }
    public double BrokerCpuMicrosPerMsg { get; }

    public bool Ok => Lost == 0 && Duplicates == 0 && Invalid == 0 && ErrorCount == 0;

    private static double Ms(long micros) => micros / 1000.0;

    private static string Describe(LatencyHistogram h) => string.Create(Inv,
        $"p50 {Ms(h.Percentile(50)):0.000} ms  p99 {Ms(h.Percentile(99)):0.000} ms  p99.9 {Ms(h.Percentile(99.9)):0.000} ms  max {Ms(h.Max):0.000} ms  mean {h.Mean / 1000:0.000} ms  ({h.Count:N0} samples)");

    public void Print(bool cleanTeardown, IReadOnlyList<string> errors)
    {
        var sb = new StringBuilder();
        sb.AppendLine("Broker.Bench results");
        sb.AppendLine("  options:   " + _o.Describe());
        sb.AppendLine(string.Create(Inv, $"  window:    {Seconds:0.00} s measured after {_o.Warmup} s warmup"));
        sb.AppendLine(string.Create(Inv, $"  publish:   {PublishRate,12:N0} msgs/s"));
        if (_o.Confirms > 0)
        {
            sb.AppendLine(string.Create(Inv, $"  confirm:   {ConfirmRate,12:N0} msgs/s"));
        }
        sb.AppendLine(string.Create(Inv, $"  consume:   {ConsumeRate,12:N0} msgs/s"));
        sb.AppendLine("  latency:   " + Describe(Latency));
        if (_o.Confirms > 0)
        {
            sb.AppendLine("  confirms:  " + Describe(ConfirmLatency));
            if (ConfirmLatency.Count > 0)
            {
                sb.AppendLine(string.Create(Inv, $"  stall:     longest confirm {Ms(ConfirmLatency.Max):0.000} ms, arrived at {LongestConfirmAt:HH:mm:ss.fff} UTC"));
            }
        }
        sb.Append(string.Create(Inv, $"  totals:    published {Published:N0}"));
        if (_o.Confirms > 0)
        {
            sb.Append(string.Create(Inv, $"  confirmed {Confirmed:N0}  nacked {Nacked:N0}  failed {Failed:N0}  unconfirmed {Published - Confirmed - Nacked - Failed:N0}"));
        }
        sb.AppendLine(string.Create(Inv, $"  received {Received:N0}"));
        sb.AppendLine(string.Create(Inv,
            $"  lost:      {(CheckLoss ? Lost.ToString("N0", Inv) : "n/a (no producers or no consumers)")}  duplicates {Duplicates:N0}  out-of-order {OutOfOrder:N0}  redelivered {Redelivered:N0}  invalid {Invalid:N0}  (drain {DrainSeconds:0.00} s{(DrainedFully ? string.Empty : ", incomplete")})"));
        sb.Append(string.Create(Inv, $"  cpu:       client {ClientCpuSeconds:0.00} s ({ClientCpuMicrosPerMsg:0.0} us/msg)"));
        if (_o.BrokerPid > 0)
        {
            sb.Append(string.Create(Inv, $"  broker pid {_o.BrokerPid} {BrokerCpuSeconds:0.00} s ({BrokerCpuMicrosPerMsg:0.0} us/msg, {BrokerCpuSeconds / Seconds:0.00} cores)"));
        }
        sb.AppendLine();
        foreach (string e in errors)
        {
            sb.AppendLine("  error:     " + e);
        }
        if (!cleanTeardown)
        {
            sb.AppendLine("  warning:   teardown did not complete cleanly (queues may be left behind)");
        }
        sb.AppendLine("  result:    " + (Ok ? "OK" : "FAIL"));
        Console.Write(sb.ToString());

        if (_o.Json)
        {
            Console.WriteLine(ToJson());
        }
    }

    private string ToJson()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteStartObject("options");
            w.WriteString("uri", _o.SafeUri());
            w.WriteNumber("producers", _o.Producers);
            w.WriteNumber("consumers", _o.Consumers);
            w.WriteNumber("queues", _o.Queues);
            w.WriteNumber("size", _o.Size);
            w.WriteBoolean("persistent", _o.Persistent);
            w.WriteString("queue_args", string.Join(",", _o.QueueArguments.Select(a => $"{a.Key}={a.Value}")));
            w.WriteNumber("confirms", _o.Confirms);
            w.WriteNumber("prefetch", _o.Prefetch);
            w.WriteNumber("multiAck", _o.EffectiveAckEvery);
            w.WriteBoolean("autoAck", _o.AutoAck);
            w.WriteNumber("rate", _o.Rate);
            w.WriteNumber("duration", _o.Duration);
            w.WriteNumber("warmup", _o.Warmup);
            w.WriteEndObject();
            w.WriteNumber("seconds", Math.Round(Seconds, 3));
            w.WriteNumber("publishRate", Math.Round(PublishRate, 1));
            w.WriteNumber("confirmRate", Math.Round(ConfirmRate, 1));
            w.WriteNumber("consumeRate", Math.Round(ConsumeRate, 1));
            w.WriteNumber("latencyP50Ms", Ms(Latency.Percentile(50)));
            w.WriteNumber("latencyP99Ms", Ms(Latency.Percentile(99)));
            w.WriteNumber("latencyP999Ms", Ms(Latency.Percentile(99.9)));
            w.WriteNumber("latencyMaxMs", Ms(Latency.Max));
            w.WriteNumber("latencyMeanMs", Math.Round(Latency.Mean / 1000, 3));
            w.WriteNumber("latencySamples", Latency.Count);
            if (_o.Confirms > 0)
            {
                w.WriteNumber("confirmP50Ms", Ms(ConfirmLatency.Percentile(50)));
                w.WriteNumber("confirmP99Ms", Ms(ConfirmLatency.Percentile(99)));
                w.WriteNumber("confirmP999Ms", Ms(ConfirmLatency.Percentile(99.9)));
                w.WriteNumber("confirmMaxMs", Ms(ConfirmLatency.Max));
                if (ConfirmLatency.Count > 0)
                {
                    w.WriteString("longestConfirmAt", LongestConfirmAt.ToString("O", Inv));
                }
                else
                {
                    w.WriteNull("longestConfirmAt");
                }
            }
            w.WriteNumber("published", Published);
            w.WriteNumber("confirmed", Confirmed);
            w.WriteNumber("nacked", Nacked);
            w.WriteNumber("failed", Failed);
            w.WriteNumber("received", Received);
            if (CheckLoss)
            {
                w.WriteNumber("lost", Lost);
            }
            else
            {
                w.WriteNull("lost");
            }
            w.WriteNumber("duplicates", Duplicates);
            w.WriteNumber("outOfOrder", OutOfOrder);
            w.WriteNumber("redelivered", Redelivered);
            w.WriteNumber("invalid", Invalid);
            w.WriteNumber("drainSeconds", Math.Round(DrainSeconds, 3));
            w.WriteNumber("clientCpuSeconds", Math.Round(ClientCpuSeconds, 3));
            w.WriteNumberOrNull("clientCpuUsPerMsg", ClientCpuMicrosPerMsg, 3);
            if (_o.BrokerPid > 0)
            {
                w.WriteNumber("brokerPid", _o.BrokerPid);
                w.WriteNumberOrNull("brokerCpuSeconds", BrokerCpuSeconds, 3);
                w.WriteNumberOrNull("brokerCpuUsPerMsg", BrokerCpuMicrosPerMsg, 3);
            }
            w.WriteNumber("errors", ErrorCount);
            w.WriteBoolean("ok", Ok);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}
