using System.Globalization;
using System.Net;
using Akka.Configuration;
using Broker.Actors;
using Broker.Actors.Alarms;

namespace Broker.Node;

/// <summary>
/// Reads the node's configuration: environment overlay, then an optional BROKER_CONFIG_FILE, then
/// hocon/broker.conf and hocon/akka.conf. Akka's HOCON parser ignores the environment, so the
/// overlay is built here in code and chained in front of the files. Every value is checked before
/// anything starts; a bad one stops the node with the setting's name.
/// </summary>
public static class BrokerConfig
{
    /// <summary>Environment variable -> HOCON path, as documented in README.md.</summary>
    public static readonly IReadOnlyList<(string Env, string Path)> EnvironmentKeys = new[]
    {
        ("BROKER_AMQP_PORT", "broker.amqp.port"),
        ("BROKER_BIND_ADDRESS", "broker.amqp.bind-address"),
        ("BROKER_FRAME_MAX", "broker.amqp.frame-max"),
        ("BROKER_CHANNEL_MAX", "broker.amqp.channel-max"),
        ("BROKER_HEARTBEAT", "broker.amqp.heartbeat"),
        ("BROKER_MAX_MESSAGE_SIZE", "broker.amqp.max-message-size"),
        ("BROKER_CONSUMER_TIMEOUT", "broker.amqp.consumer-timeout"),
        ("BROKER_CONNECTION_MAX", "broker.amqp.connection-max"),
        ("BROKER_DATA_DIR", "broker.data-dir"),
        ("BROKER_MEMORY_HIGH_WATERMARK", "broker.alarms.memory-high-watermark"),
        ("BROKER_DISK_FREE_LIMIT", "broker.alarms.disk-free-limit"),
        ("BROKER_QUEUE_MEMORY_BUDGET", "broker.queues.memory-budget"),
        ("BROKER_JOURNAL_PROVIDER", "broker.journal.provider"),
        ("BROKER_JOURNAL_CONNECTION", "broker.journal.connection-string"),
        ("BROKER_DEFAULT_USER", "broker.default-user"),
        ("BROKER_DEFAULT_PASS", "broker.default-pass"),
        ("BROKER_AMQPS_PORT", "broker.tls.port"),
        ("BROKER_TLS_CERT", "broker.tls.cert"),
        ("BROKER_TLS_KEY", "broker.tls.key"),
        ("BROKER_TLS_CA", "broker.tls.ca"),
        ("BROKER_TLS_VERIFY_PEER", "broker.tls.verify-peer"),
        ("BROKER_MANAGEMENT_PORT", "broker.management.port"),
        ("BROKER_MANAGEMENT_BIND_ADDRESS", "broker.management.bind-address"),
        ("BROKER_PROMETHEUS_PORT", "broker.management.prometheus-port"),
        ("BROKER_LOG_LEVEL", "akka.loglevel"),
        ("BROKER_CLUSTER_HOSTNAME", "akka.remote.dot-netty.tcp.hostname"),
        ("BROKER_CLUSTER_PUBLIC_HOSTNAME", "akka.remote.dot-netty.tcp.public-hostname"),
        ("BROKER_CLUSTER_PORT", "akka.remote.dot-netty.tcp.port"),
        ("BROKER_CLUSTER_PUBLIC_PORT", "akka.remote.dot-netty.tcp.public-port"),
        ("BROKER_NODE_NAME", "broker.cluster.node-name"),
        ("BROKER_CLUSTER_NAME", "broker.cluster.name"),
        ("BROKER_CLUSTER_FENCE", "broker.cluster.fence"),
        ("BROKER_CLUSTER_LEASE", "broker.cluster.lease"),
    };

    /// <summary>Loads and checks the configuration from the given environment (a dictionary, so tests can pass their own).</summary>
    public static (BrokerSettings Settings, Config Akka) Load(IReadOnlyDictionary<string, string> env, string? hoconDir = null)
    {
        hoconDir ??= Path.Combine(AppContext.BaseDirectory, "hocon");
        var config = ParseFile(Path.Combine(hoconDir, "akka.conf"), "hocon/akka.conf");
        config = ParseFile(Path.Combine(hoconDir, "broker.conf"), "hocon/broker.conf").WithFallback(config);
        if (env.TryGetValue("BROKER_CONFIG_FILE", out var extra) && extra.Length > 0)
        {
            if (!File.Exists(extra))
            {
                throw new ConfigurationException("config-file", "BROKER_CONFIG_FILE", $"file '{extra}' does not exist");
            }

            config = ParseFile(extra, extra).WithFallback(config);
        }

        config = Overlay(env).WithFallback(config);
        var settings = ReadSettings(config, env);
        var cluster = ClusterConfig.From(config);
        string provider = JournalConfig.ProviderOf(config);
        if (cluster.IsMultiNode && !JournalConfig.IsShared(provider))
        {
            throw new ConfigurationException("broker.journal.provider", "BROKER_JOURNAL_PROVIDER",
                $"a cluster of several nodes (BROKER_CLUSTER_SEEDS) needs a journal every node can reach: set it to postgresql " +
                $"('{provider}' is for a single node)");
        }

        var journal = JournalConfig.From(config, settings.DataDirectory, Incarnation.New());

        if (journal.Fence is null)
        {
            // Nothing below sharding fences a downed node's queues: re-home them only after the
            // resolver's margin (stable-after), by which time a node on the losing side stopped.
            config = ConfigurationFactory.ParseString("akka.cluster.down-removal-margin = off").WithFallback(config);
        }

        // The node's own stdout logger (Akka's INFO lines only at DEBUG): set here, not in hocon/akka.conf,
        // which tests of Broker.Actors load without this assembly.
        var logger = typeof(Logging.NodeConsoleLogger);
        config = ConfigurationFactory.ParseString($"akka.loggers = [\"{logger.FullName}, {logger.Assembly.GetName().Name}\"]").WithFallback(config);
        config = cluster.Akka.WithFallback(journal.Akka).WithFallback(config)
            .WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration);
        settings = settings with
        {
            JournalIndex = journal.Index,
            JournalRows = journal.Rows,
            JournalDescription = journal.Description,
            JournalInitLock = journal.InitLock,
            Fence = journal.Fence,
            NodeName = cluster.NodeName,
            ClusterName = cluster.ClusterName,
            SeedNodes = cluster.SeedNodes,
        };
        return (settings, config);
    }

    private static Config ParseFile(string path, string name)
    {
        try
        {
            return ConfigurationFactory.ParseString(File.ReadAllText(path));
        }
        catch (Exception e) when (e is not ConfigurationException)
        {
            throw new ConfigurationException(name, null, $"cannot be read: {e.Message}");
        }
    }

    private static Config Overlay(IReadOnlyDictionary<string, string> env)
    {
        var lines = new List<string>();
        foreach (var (name, path) in EnvironmentKeys)
        {
            if (env.TryGetValue(name, out var value) && value.Length > 0)
            {
                lines.Add($"{path} = {Quote(value)}");
            }
        }

        // Comma-separated lists.
        foreach (var (name, path) in new[] { ("BROKER_VHOSTS", "broker.vhosts"), ("BROKER_CLUSTER_SEEDS", "broker.cluster.seeds"), ("BROKER_LOOPBACK_USERS", "broker.loopback-users") })
        {
            if (env.TryGetValue(name, out var list) && list.Length > 0)
            {
                lines.Add($"{path} = [{string.Join(", ", list.Split(',').Select(v => Quote(v.Trim())))}]");
            }
        }

        return ConfigurationFactory.ParseString(string.Join("\n", lines));
    }

    internal static string Quote(string value) =>
        "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static BrokerSettings ReadSettings(Config c, IReadOnlyDictionary<string, string> env)
    {
        string Env(string path) => EnvironmentKeys.FirstOrDefault(k => k.Path == path).Env;

        long Number(string path, long min, long max)
        {
            string raw = c.GetString(path) ?? throw new ConfigurationException(path, Env(path), "is missing");
            if (!long.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) || v < min || v > max)
            {
                throw new ConfigurationException(path, Env(path), $"'{raw}' is not a whole number from {min} to {max}");
            }

            return v;
        }

        string Text(string path)
        {
            string? raw = c.GetString(path);
            if (string.IsNullOrEmpty(raw))
            {
                throw new ConfigurationException(path, Env(path), "must not be empty");
            }

            return raw;
        }

        string bind = Text("broker.amqp.bind-address");
        if (!IPAddress.TryParse(bind, out var address))
        {
            throw new ConfigurationException("broker.amqp.bind-address", "BROKER_BIND_ADDRESS", $"'{bind}' is not an IP address");
        }

        string dataDir = Text("broker.data-dir");
        try
        {
            Directory.CreateDirectory(dataDir);
        }
        catch (Exception e)
        {
            throw new ConfigurationException("broker.data-dir", "BROKER_DATA_DIR", $"cannot create '{dataDir}': {e.Message}");
        }

        string level = (c.GetString("akka.loglevel") ?? "INFO").ToUpperInvariant();
        if (level is not ("DEBUG" or "INFO" or "WARNING" or "ERROR" or "OFF"))
        {
            throw new ConfigurationException("akka.loglevel", "BROKER_LOG_LEVEL", $"'{level}' is not one of DEBUG, INFO, WARNING, ERROR, OFF");
        }

        Number("akka.remote.dot-netty.tcp.port", 0, 65535);
        string user = Text("broker.default-user");
        var vhosts = c.GetStringList("broker.vhosts");
        if (vhosts.Count == 0 || vhosts.Any(string.IsNullOrEmpty))
        {
            throw new ConfigurationException("broker.vhosts", "BROKER_VHOSTS", "must list at least one non-empty virtual host");
        }

        string watermarkText = Text("broker.alarms.memory-high-watermark");
        if (!MemoryWatermark.TryParse(watermarkText, out var watermark))
        {
            throw new ConfigurationException("broker.alarms.memory-high-watermark", "BROKER_MEMORY_HIGH_WATERMARK",
                $"'{watermarkText}' is neither a fraction from 0 to 1 nor a size such as 2GB or 1536MiB");
        }

        string diskLimitText = Text("broker.alarms.disk-free-limit");
        if (!ByteSize.TryParse(diskLimitText, out long diskFreeLimit))
        {
            throw new ConfigurationException("broker.alarms.disk-free-limit", "BROKER_DISK_FREE_LIMIT",
                $"'{diskLimitText}' is not a size such as 50MB, 2GiB or a number of bytes");
        }

        string budgetText = Text("broker.queues.memory-budget");
        if (!ByteSize.TryParse(budgetText, out long queueBudget))
        {
            throw new ConfigurationException("broker.queues.memory-budget", "BROKER_QUEUE_MEMORY_BUDGET",
                $"'{budgetText}' is not a size such as 16MiB or a number of bytes (0: never page)");
        }

        _ = env;
        return new BrokerSettings
        {
            BindAddress = address,
            AmqpPort = (int)Number("broker.amqp.port", 0, 65535),
            FrameMax = (int)Number("broker.amqp.frame-max", 4096, 1024 * 1024 * 16),
            ChannelMax = (ushort)Number("broker.amqp.channel-max", 1, 65535),
            Heartbeat = (ushort)Number("broker.amqp.heartbeat", 0, 65535),
            MaxMessageSize = Number("broker.amqp.max-message-size", 1, 512L * 1024 * 1024),
            ConnectionMax = c.GetString("broker.amqp.connection-max") is "infinity"
                ? null
                : (int)Number("broker.amqp.connection-max", 0, int.MaxValue),
            MemoryHighWatermark = watermark,
            QueueMemoryBudget = queueBudget,
            DiskFreeLimit = diskFreeLimit,
            ConsumerTimeout = c.GetString("broker.amqp.consumer-timeout") is "off" or "false"
                ? null
                : TimeSpan.FromMilliseconds(Number("broker.amqp.consumer-timeout", 1, long.MaxValue / 10_000)),
            DataDirectory = dataDir,
            DefaultUser = user,
            DefaultPassword = c.GetString("broker.default-pass") ?? string.Empty,
            VirtualHosts = vhosts.ToArray(),
            // "none" as in RabbitMQ's loopback_users = none.
            LoopbackUsers = c.GetStringList("broker.loopback-users").Where(u => u != "none").ToArray(),
            Tls = TlsConfig.From(c),
        };
    }
}
