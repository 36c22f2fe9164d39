using Broker.Actors;

namespace Broker.Node.Tests;

/// <summary>BROKER_CLUSTER_* and BROKER_NODE_NAME: seeds, names, and the refusal of a multi-node cluster on a local journal.</summary>
public sealed class ClusterConfigTests : IDisposable
{
    private const string Pg = "Host=127.0.0.1;Port=5432;Database=broker;Username=broker;Password=x";

    private readonly string _temp = Directory.CreateTempSubdirectory("broker-cluster-config-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private Dictionary<string, string> Env(params (string Name, string Value)[] vars)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["BROKER_DATA_DIR"] = Path.Combine(_temp, "data") };
        foreach (var (name, value) in vars)
        {
            env[name] = value;
        }

        return env;
    }

    private BrokerSettings Load(params (string Name, string Value)[] vars) => BrokerConfig.Load(Env(vars), RepoPaths.HoconDir).Settings;

    private ConfigurationException Bad(params (string Name, string Value)[] vars) =>
        Assert.Throws<ConfigurationException>(() => Load(vars));

    private static (string, string)[] Cluster(params (string, string)[] more) => new[]
    {
        ("BROKER_JOURNAL_PROVIDER", "postgresql"), ("BROKER_JOURNAL_CONNECTION", Pg),
        ("BROKER_CLUSTER_PORT", "4053"), ("BROKER_CLUSTER_SEEDS", "10.0.0.1:4053, 10.0.0.2:4053,10.0.0.3:4053"),
        ("BROKER_CLUSTER_HOSTNAME", "10.0.0.2"),
    }.Concat(more).ToArray();

    [Fact]
    public void Without_seeds_a_node_is_a_cluster_of_one()
    {
        var s = Load();
        Assert.Empty(s.SeedNodes);
        Assert.Equal("broker@" + Environment.MachineName, s.ClusterName);
    }

    [Fact]
    public void Seeds_become_cluster_addresses_and_names_default_from_them()
    {
        var s = Load(Cluster());
        Assert.Equal(new[] { "akka.tcp://broker@10.0.0.1:4053", "akka.tcp://broker@10.0.0.2:4053", "akka.tcp://broker@10.0.0.3:4053" },
            s.SeedNodes);
        Assert.Equal("broker@10.0.0.2:4053", s.NodeName);
        Assert.Equal("broker@10.0.0.1", s.ClusterName);
    }

    [Fact]
    public void Names_can_be_set()
    {
        var s = Load(Cluster(("BROKER_NODE_NAME", "rabbit-1"), ("BROKER_CLUSTER_NAME", "prod")));
        Assert.Equal("rabbit-1", s.NodeName);
        Assert.Equal("prod", s.ClusterName);
    }

    [Fact]
    public void The_public_hostname_is_what_peers_dial()
    {
        var (_, akka) = BrokerConfig.Load(Env(Cluster(("BROKER_CLUSTER_HOSTNAME", "0.0.0.0"), ("BROKER_CLUSTER_PUBLIC_HOSTNAME", "broker2"))),
            RepoPaths.HoconDir);
        Assert.Equal("0.0.0.0", akka.GetString("akka.remote.dot-netty.tcp.hostname"));
        Assert.Equal("broker2", akka.GetString("akka.remote.dot-netty.tcp.public-hostname"));
        // The broker joins its seeds itself, once it is ready: Akka must not join them at start.
        Assert.Empty(akka.GetStringList("akka.cluster.seed-nodes"));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("memory")]
    public void Several_nodes_on_a_local_journal_are_refused(string provider)
    {
        var e = Bad(Cluster(("BROKER_JOURNAL_PROVIDER", provider)));
        Assert.Contains("BROKER_JOURNAL_PROVIDER", e.Message);
        Assert.Contains("postgresql", e.Message);
    }

    [Fact]
    public void A_node_whose_only_seed_is_itself_may_use_sqlite()
    {
        var s = Load(("BROKER_CLUSTER_PORT", "4053"), ("BROKER_CLUSTER_SEEDS", "127.0.0.1:4053"));
        Assert.Single(s.SeedNodes);
    }

    [Theory]
    [InlineData("10.0.0.1")]
    [InlineData("10.0.0.1:abc")]
    [InlineData(":4053")]
    [InlineData("10.0.0.1:70000")]
    public void A_bad_seed_names_the_setting(string seed)
    {
        var e = Bad(Cluster(("BROKER_CLUSTER_SEEDS", seed)));
        Assert.Contains("BROKER_CLUSTER_SEEDS", e.Message);
        Assert.Contains(seed, e.Message);
    }

    [Fact]
    public void Binding_every_interface_needs_a_public_hostname()
    {
        var e = Bad(Cluster(("BROKER_CLUSTER_HOSTNAME", "0.0.0.0")));
        Assert.Contains("BROKER_CLUSTER_PUBLIC_HOSTNAME", e.Message);
    }

    [Fact]
    public void Seeds_need_a_fixed_cluster_port()
    {
        var e = Bad(Cluster(("BROKER_CLUSTER_PORT", "0")));
        Assert.Contains("BROKER_CLUSTER_PORT", e.Message);
    }

    [Fact]
    public void The_postgresql_journal_fences_by_default_and_its_sessions_carry_the_incarnation()
    {
        var (settings, akka) = BrokerConfig.Load(Env(Cluster()), RepoPaths.HoconDir);
        var fence = Assert.IsType<PostgresFence>(settings.Fence);
        Assert.Equal(TimeSpan.FromSeconds(2), fence.LeaseDuration);
        Assert.StartsWith("broker-", fence.Incarnation);
        Assert.Contains("Application Name=" + fence.Incarnation, akka.GetString("akka.persistence.journal.sql.connection-string"));
        Assert.Equal("read-committed", akka.GetString("akka.persistence.journal.sql.write-isolation-level"));
        // The fence, not a timing margin, keeps a downed node's queues from running twice.
        Assert.Equal(TimeSpan.FromMilliseconds(100), akka.GetTimeSpan("akka.cluster.down-removal-margin"));
    }

    [Fact]
    public void Without_the_fence_sharding_waits_the_resolvers_margin()
    {
        var (settings, akka) = BrokerConfig.Load(Env(Cluster(("BROKER_CLUSTER_FENCE", "off"))), RepoPaths.HoconDir);
        Assert.Null(settings.Fence);
        Assert.Equal("off", akka.GetString("akka.cluster.down-removal-margin"));
        Assert.Null(Load().Fence); // SQLite: one node, nothing to fence
    }

    [Theory]
    [InlineData("100ms")]
    [InlineData("11s")]
    public void A_lease_outside_half_a_second_to_ten_seconds_is_refused(string lease)
    {
        var e = Bad(Cluster(("BROKER_CLUSTER_LEASE", lease)));
        Assert.Contains("BROKER_CLUSTER_LEASE", e.Message);
    }
}
