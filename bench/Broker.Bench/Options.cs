using System.Globalization;

namespace Broker.Bench;

/// <summary>Command-line options. Parsed by hand: <c>--name value</c>, <c>--name=value</c> or a bare flag.</summary>
internal sealed class BenchOptions
{
    public Uri Uri { get; private set; } = new("amqp://guest:guest@127.0.0.1:5672/");

    /// <summary>Where the queues are declared (in a cluster, a non-durable queue lives on that node); default --uri.</summary>
    public Uri? DeclareUriOption { get; private set; }

    /// <summary>Where consumers connect; default --uri.</summary>
    public Uri? ConsumerUriOption { get; private set; }

    public Uri DeclareUri => DeclareUriOption ?? Uri;

    public Uri ConsumerUri => ConsumerUriOption ?? Uri;
    public int Producers { get; private set; } = 1;
    public int Consumers { get; private set; } = 1;
    public int Queues { get; private set; } = 1;
    public int Size { get; private set; } = 1024;
    public bool Persistent { get; private set; }
    public int Confirms { get; private set; }
    public int Prefetch { get; private set; } = 1000;
    public double Duration { get; private set; } = 10;
    public double Warmup { get; private set; } = 2;
    public double Rate { get; private set; }
    public int MultiAck { get; private set; } = 100;
    public bool AutoAck { get; private set; }
    public bool Json { get; private set; }
    public int BrokerPid { get; private set; }

    /// <summary>PEM file of the CA that signed an amqps broker's certificate (--tls-ca); null: the system's trust store.</summary>
    public string? TlsCa { get; private set; }

    /// <summary>Queue arguments for the declare (--queue-arg KEY=VALUE; integer values are sent as longs).</summary>
    public Dictionary<string, object?> QueueArguments { get; } = new();

    /// <summary>The priority property of every message (--priority), or null for none.</summary>
    public byte? Priority { get; private set; }

    /// <summary>Bytes at the start of every body: producer id (int32), sequence (int64), send timestamp (int64).</summary>
    public const int HeaderSize = 4 + 8 + 8;

    public const string Usage = """
        Broker.Bench - AMQP 0-9-1 load generator (RabbitMQ.Client 7.x)

        usage: dotnet run -c Release --project bench/Broker.Bench -- [options]

          --uri URI          broker URL (default amqp://guest:guest@127.0.0.1:5672/); producers connect here
          --declare-uri URI  where the queues are declared, purged and deleted (default --uri); in a cluster a
                             non-durable queue lives on the node that declared it
          --consumer-uri URI where consumers connect (default --uri)
          --producers N      publishing connections, one channel each (default 1)
          --consumers N      consuming connections, one channel each (default 1)
          --queues N         queues bench-q-0..N-1; producers and consumers are assigned round robin (default 1)
          --size BYTES       message body size, at least 20 (default 1024)
          --persistent       delivery mode 2 and durable queues (default: transient, non-durable)
          --confirms N       publisher confirms, at most N unconfirmed per producer; 0 = no confirms (default 0)
          --prefetch N       consumer basic.qos prefetch count, 0 = unlimited (default 1000)
          --duration S       seconds of measured run (default 10)
          --warmup S         seconds before measuring, not counted (default 2)
          --rate R           msgs/s cap per producer, 0 = unlimited (default 0)
          --multi-ack N      ack with multiple=true every N messages (default 100; 1 = ack each message).
                             Capped at prefetch/2 so a consumer can never stall on its own unacked window.
          --autoack          consume in no-ack mode (--multi-ack ignored)
          --queue-arg K=V    a queue argument for the declare, repeatable (e.g. x-message-ttl=60000,
                             x-max-priority=10); values that parse as integers are sent as integers
          --priority P       priority property of every message (0-255; default none)
          --tls-ca FILE      with an amqps:// URI, trust the CA in this PEM file (a test CA) for the broker's certificate
          --broker-pid PID   sample /proc/PID/stat to report the broker's CPU time per message (Linux)
          --json             also print one JSON line with options and results
          --help             this text

        exit code: 0 = no lost or duplicated messages, 1 = loss, duplicates or a run error, 2 = bad options
        """;

    private static readonly HashSet<string> KnownValueOptions =
    [
        "uri", "declare-uri", "consumer-uri", "producers", "consumers", "queues", "size", "confirms", "prefetch", "duration", "warmup", "rate", "multi-ack", "broker-pid", "queue-arg", "priority", "tls-ca",
    ];

    private static bool TryQueueArg(string value, Dictionary<string, object?> args)
    {
        int eq = value.IndexOf('=');
        if (eq <= 0)
        {
            return false;
        }

        string v = value[(eq + 1)..];
        args[value[..eq]] = long.TryParse(v, out long n) ? n : v;
        return true;
    }

    /// <summary>Returns null and sets <paramref name="error"/> on a bad option; sets <paramref name="help"/> for --help.</summary>
    public static BenchOptions? Parse(string[] args, out bool help, out string? error)
    {
        var o = new BenchOptions();
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
                case "help":
                case "h":
                    help = true;
                    return o;
                case "persistent":
                    o.Persistent = true;
                    continue;
                case "autoack":
                    o.AutoAck = true;
                    continue;
                case "json":
                    o.Json = true;
                    continue;
            }

            if (!KnownValueOptions.Contains(name))
            {
                error = $"unknown option --{name}";
                return null;
            }

            string? value = OptionArgs.Value(name, inline, args, ref i, out error);
            if (value is null)
            {
                return null;
            }

            bool ok = name switch
            {
                "uri" => TryUri(value, v => o.Uri = v),
                "declare-uri" => TryUri(value, v => o.DeclareUriOption = v),
                "consumer-uri" => TryUri(value, v => o.ConsumerUriOption = v),
                "producers" => OptionArgs.TryInt(value, 0, 10_000, v => o.Producers = v),
                "consumers" => OptionArgs.TryInt(value, 0, 10_000, v => o.Consumers = v),
                "queues" => OptionArgs.TryInt(value, 1, 10_000, v => o.Queues = v),
                "size" => OptionArgs.TryInt(value, HeaderSize, 128 * 1024 * 1024, v => o.Size = v),
                "confirms" => OptionArgs.TryInt(value, 0, 1_000_000, v => o.Confirms = v),
                "prefetch" => OptionArgs.TryInt(value, 0, ushort.MaxValue, v => o.Prefetch = v),
                "duration" => OptionArgs.TryDouble(value, 0.1, 86_400, v => o.Duration = v),
                "warmup" => OptionArgs.TryDouble(value, 0, 86_400, v => o.Warmup = v),
                "rate" => OptionArgs.TryDouble(value, 0, 100_000_000, v => o.Rate = v),
                "multi-ack" => OptionArgs.TryInt(value, 1, 1_000_000, v => o.MultiAck = v),
                "broker-pid" => OptionArgs.TryInt(value, 1, int.MaxValue, v => o.BrokerPid = v),
                "queue-arg" => TryQueueArg(value, o.QueueArguments),
                "priority" => OptionArgs.TryInt(value, 0, 255, v => o.Priority = (byte)v),
                "tls-ca" => File.Exists(value) && (o.TlsCa = value) is not null,
                _ => false,
            };
            if (!ok)
            {
                error = $"bad value '{value}' for --{name}";
                return null;
            }
        }

        if (o.Producers == 0 && o.Consumers == 0)
        {
            error = "need at least one producer or consumer";
            return null;
        }
        if (o.Consumers > 0 && o.Producers > 0 && o.Consumers < Math.Min(o.Queues, o.Producers))
        {
            error = "every queue that gets a producer needs a consumer: use --consumers >= min(--queues, --producers)";
            return null;
        }
        return o;
    }

    /// <summary>Ack interval actually used: --multi-ack, capped so the unacked window never fills the prefetch.</summary>
    public int EffectiveAckEvery => AutoAck ? 0 : Prefetch == 0 ? MultiAck : Math.Max(1, Math.Min(MultiAck, Prefetch / 2));

    public string QueueName(int index) => "bench-q-" + index.ToString(CultureInfo.InvariantCulture);

    public string SafeUri() => OptionArgs.WithoutPassword(Uri);

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"uri={SafeUri()} producers={Producers} consumers={Consumers} queues={Queues} size={Size} persistent={Persistent.ToString().ToLowerInvariant()} " +
        $"confirms={Confirms} prefetch={Prefetch} multi-ack={(AutoAck ? "n/a" : EffectiveAckEvery.ToString(CultureInfo.InvariantCulture))} autoack={AutoAck.ToString().ToLowerInvariant()} " +
        $"rate={Rate} duration={Duration}s warmup={Warmup}s");



    private static bool TryUri(string s, Action<Uri> set)
    {
        if (Uri.TryCreate(s, UriKind.Absolute, out Uri? u) && (u.Scheme == "amqp" || u.Scheme == "amqps"))
        {
            set(u);
            return true;
        }
        return false;
    }
}
