using System.Globalization;
using RabbitMQ.Client;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// A cluster of real node processes on 127.0.0.1, each with its own AMQP and cluster port, all
/// listing the same seeds and sharing one PostgreSQL journal. Nodes can be killed (SIGKILL),
/// stopped, restarted on their ports and added, so tests see what clients see.
/// </summary>
public sealed class ClusterNodes : IAsyncDisposable
{
    private readonly PostgresServer _postgres;
    private readonly bool _ownsPostgres;
    private readonly List<int> _clusterPorts;
    private readonly Dictionary<string, string> _extraEnv;

    /// <summary>With a partition proxy: the ports nodes dial (the proxies'), by node.</summary>
    private readonly List<int>? _publicPorts;

    private ClusterNodes(PostgresServer postgres, bool ownsPostgres, List<int> clusterPorts, Dictionary<string, string> extraEnv,
        List<int>? publicPorts)
    {
        _postgres = postgres;
        _ownsPostgres = ownsPostgres;
        _clusterPorts = clusterPorts;
        _extraEnv = extraEnv;
        _publicPorts = publicPorts;
        if (publicPorts is not null)
        {
            Proxy = PartitionProxy.Start(publicPorts, clusterPorts);
        }
    }

    /// <summary>The forwarders in front of the nodes' cluster endpoints (when started partitionable).</summary>
    public PartitionProxy? Proxy { get; }

    /// <summary>The nodes by index; a killed node's slot holds its dead process until it is restarted.</summary>
    public List<NodeProcess> Nodes { get; } = new();

    public PostgresServer Postgres => _postgres;

    /// <summary>
    /// Starts <paramref name="count"/> nodes at the same time on an empty database (as docker-compose
    /// does); with <paramref name="postgres"/> they use that server (and leave it running).
    /// </summary>
    /// <param name="partitionable">Put a PartitionProxy in front of every node's cluster endpoint.</param>
    public static async Task<ClusterNodes> StartAsync(int count = 3, PostgresServer? postgres = null,
        Dictionary<string, string>? env = null, bool partitionable = false)
    {
        bool owns = postgres is null;
        postgres ??= await PostgresServer.StartAsync();
        var ports = Enumerable.Range(0, count).Select(_ => NodeProcess.FreePort()).ToList();
        var publicPorts = partitionable ? Enumerable.Range(0, count).Select(_ => NodeProcess.FreePort()).ToList() : null;
        var cluster = new ClusterNodes(postgres, owns, ports, env ?? new Dictionary<string, string>(), publicPorts);
        var starts = Enumerable.Range(0, count).Select(i => cluster.StartNodeAsync(i)).ToList();
        try
        {
            cluster.Nodes.AddRange(await Task.WhenAll(starts));
            await cluster.WaitUntilEveryNodeServesAsync();
        }
        catch
        {
            // Nodes that did start must not outlive the test.
            foreach (var started in starts.Where(t => t.IsCompletedSuccessfully && !cluster.Nodes.Contains(t.Result)))
            {
                cluster.Nodes.Add(started.Result);
            }

            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    public NodeProcess this[int i] => Nodes[i];

    public static string NodeName(int i) => $"node{i + 1}";

    private Dictionary<string, string> EnvFor(int i)
    {
        var env = new Dictionary<string, string>(_extraEnv)
        {
            ["BROKER_JOURNAL_PROVIDER"] = "postgresql",
            ["BROKER_JOURNAL_CONNECTION"] = _postgres.ConnectionString,
            ["BROKER_CLUSTER_HOSTNAME"] = "127.0.0.1",
            ["BROKER_CLUSTER_PORT"] = _clusterPorts[i].ToString(CultureInfo.InvariantCulture),
            // The first three nodes are the seeds, as in docker-compose.yml.
            ["BROKER_CLUSTER_SEEDS"] = string.Join(",", _clusterPorts.Take(3).Select(p => $"127.0.0.1:{p}")),
            ["BROKER_NODE_NAME"] = NodeName(i),
            ["BROKER_CLUSTER_NAME"] = "test-cluster",
        };
        if (_publicPorts is not null)
        {
            // Behind the proxies: each node on a loopback address of its own, dialled through its proxy.
            env["BROKER_CLUSTER_HOSTNAME"] = PartitionProxy.HostOf(i);
            env["BROKER_CLUSTER_PUBLIC_HOSTNAME"] = PartitionProxy.HostOf(i);
            env["BROKER_CLUSTER_PUBLIC_PORT"] = _publicPorts[i].ToString(CultureInfo.InvariantCulture);
            env["BROKER_CLUSTER_SEEDS"] = string.Join(",", _publicPorts.Take(3).Select((p, j) => $"{PartitionProxy.HostOf(j)}:{p}"));
        }

        return env;
    }

    private Task<NodeProcess> StartNodeAsync(int i, int? amqpPort = null) =>
        NodeProcess.StartAsync(EnvFor(i), amqpPort, TimeSpan.FromSeconds(150));

    /// <summary>Starts the node in slot <paramref name="i"/> again on its ports (after a kill or stop).</summary>
    public async Task RestartAsync(int i)
    {
        int port = Nodes[i].Port;
        await Nodes[i].DisposeAsync();
        Nodes[i] = await StartNodeAsync(i, port);
    }

    /// <summary>Adds one more node (not a seed) and waits until it serves.</summary>
    public async Task<NodeProcess> AddNodeAsync()
    {
        _clusterPorts.Add(NodeProcess.FreePort());
        var node = await StartNodeAsync(_clusterPorts.Count - 1);
        Nodes.Add(node);
        await WaitUntilEveryNodeServesAsync();
        return node;
    }

    /// <summary>
    /// Waits until every live node serves the cluster's topology: a queue declared through one
    /// node is seen by the others (read-your-writes makes that immediate once they are members).
    /// </summary>
    public async Task WaitUntilEveryNodeServesAsync()
    {
        string probe = "members-probe-" + Guid.NewGuid().ToString("N")[..8];
        var live = Nodes.Where(n => !n.HasExited).ToList();
        await using (var c = await Factory(live[0]).CreateConnectionAsync())
        await using (var ch = await c.CreateChannelAsync())
        {
            await ch.QueueDeclareAsync(probe, durable: false, exclusive: false, autoDelete: false);
        }

        foreach (var node in live)
        {
            await Wait.Until(() => ProbeExists(node, probe), $"{node} to see queue {probe}", TimeSpan.FromSeconds(30));
        }

        await using (var c = await Factory(live[0]).CreateConnectionAsync())
        await using (var ch = await c.CreateChannelAsync())
        {
            await ch.QueueDeleteAsync(probe);
        }
    }

    private static bool ProbeExists(NodeProcess node, string queue)
    {
        try
        {
            using var c = Factory(node).CreateConnectionAsync().GetAwaiter().GetResult();
            using var ch = c.CreateChannelAsync().GetAwaiter().GetResult();
            ch.QueueDeclarePassiveAsync(queue).GetAwaiter().GetResult();
            return true;
        }
        catch (Exception e) when (e is RabbitMQ.Client.Exceptions.OperationInterruptedException
                                       or RabbitMQ.Client.Exceptions.BrokerUnreachableException)
        {
            return false;
        }
    }

    public static ConnectionFactory Factory(NodeProcess node) => new()
    {
        Uri = new Uri(node.Uri),
        AutomaticRecoveryEnabled = false,
        TopologyRecoveryEnabled = false,
        RequestedHeartbeat = TimeSpan.FromSeconds(30),
    };

    public Task<IConnection> ConnectAsync(int i) => Factory(Nodes[i]).CreateConnectionAsync();

    /// <summary>The index of the live node that serves this queue now (the latest "declared"/"recovered" log line), or -1.</summary>
    public int OwnerOf(string queue, string vhost = "/")
    {
        string declared = $"Queue '{queue}' in vhost '{vhost}' declared";
        string recovered = $"Recovered durable queue '{queue}' in vhost '{vhost}'";
        int owner = -1;
        DateTime latest = DateTime.MinValue;
        for (int i = 0; i < Nodes.Count; i++)
        {
            if (Nodes[i].HasExited)
            {
                continue;
            }

            foreach (var at in new[] { Nodes[i].LastLineTime(declared), Nodes[i].LastLineTime(recovered) })
            {
                if (at is { } t && t > latest)
                {
                    latest = t;
                    owner = i;
                }
            }
        }

        return owner;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }

        if (Proxy is not null)
        {
            await Proxy.DisposeAsync();
        }

        if (_ownsPostgres)
        {
            await _postgres.DisposeAsync();
        }
    }
}
