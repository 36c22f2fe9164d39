using Broker.Actors;
using Broker.Node;
using RabbitMQ.Client;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// A real broker node started in-process on an ephemeral loopback port, driven over TCP by real
/// clients. One node is shared by a test collection; tests that need other settings start their own.
/// </summary>
public class BrokerFixture : IAsyncLifetime, IAsyncDisposable
{
    private readonly Dictionary<string, string> _env;
    private readonly bool _ownsDataDir;
    private BrokerNode? _node;

    public BrokerFixture() : this(new Dictionary<string, string>())
    {
    }

    protected BrokerFixture(Dictionary<string, string> env, string? dataDir = null)
    {
        _ownsDataDir = dataDir is null;
        DataDir = dataDir ?? Path.Combine(Path.GetTempPath(), "broker-e2e-" + Guid.NewGuid().ToString("N"));
        _env = new Dictionary<string, string>(env)
        {
            ["BROKER_AMQP_PORT"] = "0",
            // Any free ports: fixtures run side by side, and next to a RabbitMQ on 15672.
            ["BROKER_MANAGEMENT_PORT"] = "0",
            ["BROKER_PROMETHEUS_PORT"] = "off",
            ["BROKER_DATA_DIR"] = DataDir,
            ["BROKER_LOG_LEVEL"] = env.GetValueOrDefault("BROKER_LOG_LEVEL", "WARNING"),
            // Every message goes through its serializer, as if it crossed nodes.
            ["BROKER_CONFIG_FILE"] = Path.Combine(AppContext.BaseDirectory, "serialize-messages.conf"),
        };
        foreach (var (k, v) in env)
        {
            _env[k] = v;
        }
    }

    public string DataDir { get; }

    public BrokerServer Server => (_node ?? throw new InvalidOperationException("not started")).Server;

    /// <summary>The node's management HTTP API (and web UI, and /metrics).</summary>
    public Uri ManagementUri => new($"http://{_node?.Management?.Endpoint ?? throw new InvalidOperationException("management is off")}/");

    /// <summary>The Prometheus-only listener (a fixture that wants it sets BROKER_PROMETHEUS_PORT).</summary>
    public Uri PrometheusUri => new($"http://{_node?.Management?.PrometheusEndpoint ?? throw new InvalidOperationException("prometheus is off")}/");

    public int Port => Server.Endpoint!.Port;

    public string Uri => $"amqp://guest:guest@127.0.0.1:{Port}/";

    /// <summary>Starts a node of its own; with <paramref name="dataDir"/> it reuses (and leaves) that data.</summary>
    public static async Task<BrokerFixture> StartAsync(Dictionary<string, string> env, string? dataDir = null)
    {
        var f = new BrokerFixture(env, dataDir);
        await f.InitializeAsync();
        return f;
    }

    public async Task InitializeAsync() => _node = await NodeHost.StartAsync(_env);

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.StopAsync();
        }

        if (!_ownsDataDir)
        {
            return;
        }

        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind does no harm.
        }
    }

    public ConnectionFactory Factory(string user = "guest", string password = "guest") => new()
    {
        HostName = "127.0.0.1",
        Port = Port,
        UserName = user,
        Password = password,
        AutomaticRecoveryEnabled = false,
        TopologyRecoveryEnabled = false,
        RequestedHeartbeat = TimeSpan.FromSeconds(30),
    };

    public Task<IConnection> ConnectAsync() => Factory().CreateConnectionAsync();
}

[CollectionDefinition("broker")]
public sealed class BrokerCollection : ICollectionFixture<BrokerFixture>
{
}
