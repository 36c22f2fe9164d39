using System.Globalization;

namespace Broker.Bench;

/// <summary>Options of `soak` mode. Parsed by hand like <see cref="BenchOptions"/>: <c>--name value</c> or <c>--name=value</c>.</summary>
internal sealed class SoakOptions
{
    public Uri Uri { get; private set; } = new("amqp://guest:guest@127.0.0.1:5672/");

    /// <summary>Base URL of the management HTTP API (/api/overview, /api/nodes); null: not sampled.</summary>
    public Uri? ManagementUri { get; private set; }

    public double Duration { get; private set; } = 1800;

    /// <summary>Seconds at the start left out of the RSS and throughput summary (the heap and caches fill up first).</summary>
    public double WarmupWindow { get; private set; } = -1;

    public int Producers { get; private set; } = 4;
    public int Consumers { get; private set; } = 6;
    public int DurableQueues { get; private set; } = 2;
    public int TransientQueues { get; private set; } = 1;

    /// <summary>Largest body; each message's size is drawn between the 20-byte header and this.</summary>
    public int Size { get; private set; } = 2048;

    /// <summary>Messages per second per producer: the soak is long, and the machine is shared.</summary>
    public double Rate { get; private set; } = 500;

    public int Confirms { get; private set; } = 100;
    public int Prefetch { get; private set; } = 200;
    public int AckEvery { get; private set; } = 50;

    /// <summary>Mean seconds between two client kills (each wait is drawn from 0.5x to 1.5x this); 0 = no kills.</summary>
    public double KillEvery { get; private set; } = 10;

    /// <summary>Longest pause before a killed client's replacement connects.</summary>
    public double RestartDelay { get; private set; } = 2;

    public double SampleEvery { get; private set; } = 10;

    /// <summary>After the run, how long consumers may take to receive every confirmed message.</summary>
    public double Drain { get; private set; } = 60;

    public int NodePid { get; private set; }

    /// <summary>The node's data directory, whose size is sampled (the journal should not grow with history); null: not sampled.</summary>
    public string? DataDir { get; private set; }
    public int Seed { get; private set; } = Environment.TickCount & int.MaxValue;

    /// <summary>Fail the run if RSS grows faster than this after warm-up (MB per 10 min); NaN = report only.</summary>
    public double MaxRssSlope { get; private set; } = double.NaN;

    public bool Json { get; private set; }

    /// <summary>Seconds left out of the summary: --warmup-window, or by default 5 minutes, at most a third of the run.</summary>
    public double EffectiveWarmup => WarmupWindow >= 0 ? WarmupWindow : Math.Min(300, Duration / 3);

    public int QueueCount => DurableQueues + TransientQueues;

    /// <summary>Durable queues come first: soak-durable-0.., then soak-transient-0..</summary>
    public string QueueName(int index) => index < DurableQueues
        ? "soak-durable-" + index.ToString(CultureInfo.InvariantCulture)
        : "soak-transient-" + (index - DurableQueues).ToString(CultureInfo.InvariantCulture);

    public bool IsDurable(int queueIndex) => queueIndex < DurableQueues;

    public const string Usage = """
        Broker.Bench soak - a long run with client kills, watching the broker's memory and checking for loss

        usage: Broker.Bench soak [options]

          --uri URI           broker URL (default amqp://guest:guest@127.0.0.1:5672/)
          --management URL    management API base (e.g. http://127.0.0.1:15672/), sampled for connections,
                              queue depth and mem_used with the user and password of --uri (default: not sampled)
          --node-pid PID      sample the broker's RSS, threads and fds from /proc/PID (Linux)
          --data-dir DIR      sample the size of the node's data directory (its journal)
          --duration S        seconds of load (default 1800), then a drain and a summary
          --warmup-window S   seconds left out of the summary (default min(300, duration/3))
          --producers N       publishing clients, one connection each, confirms on (default 4)
          --consumers N       consuming clients, manual acks (default 6; at least the number of queues)
          --durable-queues N  durable queues taking persistent messages (default 2)
          --transient-queues N non-durable queues taking transient messages (default 1)
          --size BYTES        largest body, 20..BYTES uniformly (default 2048)
          --rate R            msgs/s per producer (default 500)
          --confirms N        unconfirmed publishes per producer at most (default 100)
          --prefetch N        consumer prefetch (default 200)
          --ack-every N       ack with multiple=true every N deliveries, and at least every 200 ms (default 50)
          --kill-every S      mean seconds between client kills, 0 = none (default 10)
          --restart-delay S   longest pause before a killed client's replacement connects (default 2)
          --sample-every S    seconds between samples (default 10)
          --drain S           at most this long for consumers to get every confirmed message (default 60)
          --seed N            seed of every random choice (default: from the clock; printed)
          --max-rss-slope MB  fail if RSS after warm-up grows faster than MB per 10 min (default: report only)
          --json              also print one JSON line with the samples and the summary

        Producers and consumers are spread round robin over the queues. A kill aborts the client's
        TCP connection without an AMQP close (RST or FIN, at random) and a replacement connects.
        exit code: 0 = no confirmed message lost, no unexpected error (and the slope within --max-rss-slope);
                   1 = otherwise; 2 = bad options
        """;

    public static SoakOptions? Parse(string[] args, out bool help, out string? error)
    {
        var o = new SoakOptions();
        help = false;
        error = null;
        for (int i = 0; i < args.Length; i++)
        {
            string? name = OptionArgs.Name(args[i], out string? inline, out error);
            if (name is null)
            {
                return null;
            }

            switch (name)
            {
                case "help" or "h":
                    help = true;
                    return o;
                case "json":
                    o.Json = true;
                    continue;
            }

            string? value = OptionArgs.Value(name, inline, args, ref i, out error);
            if (value is null)
            {
                return null;
            }

            bool? ok = name switch
            {
                "uri" => Uri.TryCreate(value, UriKind.Absolute, out Uri? u) && u.Scheme == "amqp" && (o.Uri = u) is not null,
                "management" => Uri.TryCreate(value, UriKind.Absolute, out Uri? m) && m.Scheme is "http" or "https" && (o.ManagementUri = m) is not null,
                "node-pid" => OptionArgs.TryInt(value, 1, int.MaxValue, v => o.NodePid = v),
                "data-dir" => Directory.Exists(value) && (o.DataDir = value) is not null,
                "duration" => OptionArgs.TryDouble(value, 1, 7 * 86_400, v => o.Duration = v),
                "warmup-window" => OptionArgs.TryDouble(value, 0, 7 * 86_400, v => o.WarmupWindow = v),
                "producers" => OptionArgs.TryInt(value, 0, 1000, v => o.Producers = v),
                "consumers" => OptionArgs.TryInt(value, 0, 1000, v => o.Consumers = v),
                "durable-queues" => OptionArgs.TryInt(value, 0, 1000, v => o.DurableQueues = v),
                "transient-queues" => OptionArgs.TryInt(value, 0, 1000, v => o.TransientQueues = v),
                "size" => OptionArgs.TryInt(value, BenchOptions.HeaderSize, 16 * 1024 * 1024, v => o.Size = v),
                "rate" => OptionArgs.TryDouble(value, 0.1, 1_000_000, v => o.Rate = v),
                "confirms" => OptionArgs.TryInt(value, 1, 100_000, v => o.Confirms = v),
                "prefetch" => OptionArgs.TryInt(value, 1, ushort.MaxValue, v => o.Prefetch = v),
                "ack-every" => OptionArgs.TryInt(value, 1, 100_000, v => o.AckEvery = v),
                "kill-every" => OptionArgs.TryDouble(value, 0, 86_400, v => o.KillEvery = v),
                "restart-delay" => OptionArgs.TryDouble(value, 0, 600, v => o.RestartDelay = v),
                "sample-every" => OptionArgs.TryDouble(value, 0.5, 3600, v => o.SampleEvery = v),
                "drain" => OptionArgs.TryDouble(value, 1, 3600, v => o.Drain = v),
                "seed" => OptionArgs.TryInt(value, 0, int.MaxValue, v => o.Seed = v),
                "max-rss-slope" => OptionArgs.TryDouble(value, 0, 1_000_000, v => o.MaxRssSlope = v),
                _ => null,
            };
            if (ok is null)
            {
                error = $"unknown option --{name}";
                return null;
            }
            if (ok == false)
            {
                error = $"bad value '{value}' for --{name}";
                return null;
            }
        }

        if (o.QueueCount == 0)
        {
            error = "need at least one queue";
            return null;
        }
        if (o.Producers > 0 && o.Consumers < o.QueueCount)
        {
            // A queue without a consumer would only fill up, and its messages would count as lost.
            error = "every queue needs a consumer: use --consumers >= --durable-queues + --transient-queues";
            return null;
        }
        if (o.AckEvery > o.Prefetch)
        {
            error = "--ack-every must not exceed --prefetch (the consumer would wait for deliveries that cannot come)";
            return null;
        }
        return o;
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"uri={SafeUri()} duration={Duration}s warmup-window={EffectiveWarmup:0.#}s producers={Producers} consumers={Consumers} " +
        $"queues={DurableQueues} durable + {TransientQueues} transient size<={Size} rate={Rate}/s/producer confirms={Confirms} " +
        $"prefetch={Prefetch} ack-every={AckEvery} kill-every={KillEvery}s restart-delay<={RestartDelay}s seed={Seed}");

    public string SafeUri() => OptionArgs.WithoutPassword(Uri);
}
