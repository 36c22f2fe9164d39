using System.Net;
using Broker.Actors;

namespace Broker.Node.Tests;

public sealed class BrokerConfigTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("broker-config-tests-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    /// <summary>An environment with a data dir under the test's temp folder, plus the given variables.</summary>
    private Dictionary<string, string> Env(params (string Name, string Value)[] vars)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["BROKER_DATA_DIR"] = Path.Combine(_temp, "data") };
        foreach (var (name, value) in vars)
        {
            env[name] = value;
        }

        return env;
    }

    private static BrokerSettings Load(Dictionary<string, string> env) => BrokerConfig.Load(env, RepoPaths.HoconDir).Settings;

    private ConfigurationException Bad(params (string Name, string Value)[] vars) =>
        Assert.Throws<ConfigurationException>(() => Load(Env(vars)));

    [Fact]
    public void Hocon_folder_is_found()
    {
        Assert.True(File.Exists(Path.Combine(RepoPaths.HoconDir, "broker.conf")));
        Assert.True(File.Exists(Path.Combine(RepoPaths.HoconDir, "akka.conf")));
    }

    [Fact]
    public void Defaults()
    {
        var s = Load(Env());
        Assert.Equal(5672, s.AmqpPort);
        Assert.Equal(IPAddress.Loopback, s.BindAddress);
        Assert.Equal(131072, s.FrameMax);
        Assert.Equal(2047, s.ChannelMax);
        Assert.Equal(60, s.Heartbeat);
        Assert.Equal(134217728L, s.MaxMessageSize);
        Assert.Equal(("guest", "guest"), (s.DefaultUser, s.DefaultPassword));
        Assert.Equal(new[] { "guest" }, s.LoopbackUsers);
        Assert.Equal(new[] { "/" }, s.VirtualHosts);
        Assert.Null(s.Tls);
        Assert.Equal(0.4, s.MemoryHighWatermark.Relative);
        Assert.Equal(50_000_000, s.DiskFreeLimit);
        Assert.Null(s.ConnectionMax);
        Assert.Equal(100, Load(Env(("BROKER_CONNECTION_MAX", "100"))).ConnectionMax);
    }

    [Fact]
    public void Alarm_limits_are_read_as_fractions_or_sizes()
    {
        var s = Load(Env(("BROKER_MEMORY_HIGH_WATERMARK", "0.6"), ("BROKER_DISK_FREE_LIMIT", "2GB")));
        Assert.Equal(0.6, s.MemoryHighWatermark.Relative);
        Assert.Equal(2_000_000_000, s.DiskFreeLimit);
        Assert.Equal(512L * 1024 * 1024, Load(Env(("BROKER_MEMORY_HIGH_WATERMARK", "512MiB"))).MemoryHighWatermark.Absolute);
    }

    [Fact]
    public void Default_data_dir_is_data()
    {
        // Without BROKER_DATA_DIR the relative "data" is used (and created in the working directory).
        var s = BrokerConfig.Load(new Dictionary<string, string>(), RepoPaths.HoconDir).Settings;
        Assert.Equal("data", s.DataDirectory);
    }

    [Fact]
    public void Environment_overrides_every_setting()
    {
        string dataDir = Path.Combine(_temp, "nested", "data");
        var s = Load(Env(
            ("BROKER_AMQP_PORT", "5999"),
            ("BROKER_BIND_ADDRESS", "0.0.0.0"),
            ("BROKER_DATA_DIR", dataDir),
            ("BROKER_HEARTBEAT", "0"),
            ("BROKER_FRAME_MAX", "4096"),
            ("BROKER_CHANNEL_MAX", "16"),
            ("BROKER_MAX_MESSAGE_SIZE", "1048576"),
            ("BROKER_DEFAULT_USER", "admin"),
            ("BROKER_DEFAULT_PASS", "s3cret"),
            ("BROKER_VHOSTS", "/, prod ,test"),
            ("BROKER_LOOPBACK_USERS", "none")));

        Assert.Equal(5999, s.AmqpPort);
        Assert.Equal(IPAddress.Any, s.BindAddress);
        Assert.Equal(dataDir, s.DataDirectory);
        Assert.True(Directory.Exists(dataDir));
        Assert.Equal(0, s.Heartbeat);
        Assert.Equal(4096, s.FrameMax);
        Assert.Equal(16, s.ChannelMax);
        Assert.Equal(1048576L, s.MaxMessageSize);
        Assert.Equal(("admin", "s3cret"), (s.DefaultUser, s.DefaultPassword));
        Assert.Empty(s.LoopbackUsers);
        Assert.Equal(new[] { "/", "prod", "test" }, s.VirtualHosts);
    }

    [Theory]
    [InlineData("BROKER_AMQP_PORT", "0")]
    [InlineData("BROKER_AMQP_PORT", "65535")]
    [InlineData("BROKER_FRAME_MAX", "16777216")]
    [InlineData("BROKER_HEARTBEAT", "65535")]
    [InlineData("BROKER_CHANNEL_MAX", "1")]
    public void Boundary_values_are_accepted(string name, string value) => Load(Env((name, value)));

    [Fact]
    public void Ipv6_bind_address_is_accepted() =>
        Assert.Equal(IPAddress.IPv6Loopback, Load(Env(("BROKER_BIND_ADDRESS", "::1"))).BindAddress);

    [Fact]
    public void Special_characters_in_the_password_survive()
    {
        const string pass = "p\"a\\s s${x}#,";
        Assert.Equal(pass, Load(Env(("BROKER_DEFAULT_PASS", pass))).DefaultPassword);
    }

    [Fact]
    public void Empty_variables_are_ignored()
    {
        var s = Load(Env(("BROKER_AMQP_PORT", ""), ("BROKER_VHOSTS", "")));
        Assert.Equal(5672, s.AmqpPort);
        Assert.Equal(new[] { "/" }, s.VirtualHosts);
    }

    [Theory]
    [InlineData("BROKER_AMQP_PORT", "abc", "broker.amqp.port")]
    [InlineData("BROKER_AMQP_PORT", "70000", "broker.amqp.port")]
    [InlineData("BROKER_AMQP_PORT", "-1", "broker.amqp.port")]
    [InlineData("BROKER_AMQP_PORT", "56.72", "broker.amqp.port")]
    [InlineData("BROKER_BIND_ADDRESS", "not-an-ip", "broker.amqp.bind-address")]
    [InlineData("BROKER_FRAME_MAX", "100", "broker.amqp.frame-max")]
    [InlineData("BROKER_FRAME_MAX", "big", "broker.amqp.frame-max")]
    [InlineData("BROKER_CHANNEL_MAX", "0", "broker.amqp.channel-max")]
    [InlineData("BROKER_CHANNEL_MAX", "65536", "broker.amqp.channel-max")]
    [InlineData("BROKER_HEARTBEAT", "-5", "broker.amqp.heartbeat")]
    [InlineData("BROKER_HEARTBEAT", "65536", "broker.amqp.heartbeat")]
    [InlineData("BROKER_MAX_MESSAGE_SIZE", "0", "broker.amqp.max-message-size")]
    [InlineData("BROKER_LOG_LEVEL", "LOUD", "akka.loglevel")]
    [InlineData("BROKER_CLUSTER_PORT", "abc", "akka.remote.dot-netty.tcp.port")]
    [InlineData("BROKER_VHOSTS", ",", "broker.vhosts")]
    [InlineData("BROKER_MEMORY_HIGH_WATERMARK", "half", "broker.alarms.memory-high-watermark")]
    [InlineData("BROKER_MEMORY_HIGH_WATERMARK", "-0.2", "broker.alarms.memory-high-watermark")]
    [InlineData("BROKER_DISK_FREE_LIMIT", "plenty", "broker.alarms.disk-free-limit")]
    [InlineData("BROKER_CONNECTION_MAX", "-1", "broker.amqp.connection-max")]
    [InlineData("BROKER_CONNECTION_MAX", "lots", "broker.amqp.connection-max")]
    public void Bad_value_names_the_setting_and_the_variable(string name, string value, string setting)
    {
        var e = Bad((name, value));
        Assert.Contains(setting, e.Message);
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void Bad_port_message_shows_the_value()
    {
        var e = Bad(("BROKER_AMQP_PORT", "abc"));
        Assert.Contains("'abc'", e.Message);
    }

    [Fact]
    public void Data_dir_that_cannot_be_created_names_the_setting_and_the_variable()
    {
        string file = Path.Combine(_temp, "a-file");
        File.WriteAllText(file, "not a directory");
        var e = Bad(("BROKER_DATA_DIR", Path.Combine(file, "data")));
        Assert.Contains("broker.data-dir", e.Message);
        Assert.Contains("BROKER_DATA_DIR", e.Message);
    }

    [Fact]
    public void Config_file_overrides_hocon_and_environment_overrides_the_file()
    {
        string file = Path.Combine(_temp, "extra.conf");
        File.WriteAllText(file, """
            broker.amqp.port = 6000
            broker.amqp.heartbeat = 30
            broker.vhosts = ["/", "from-file"]
            """);
        var s = Load(Env(("BROKER_CONFIG_FILE", file), ("BROKER_AMQP_PORT", "7000")));
        Assert.Equal(7000, s.AmqpPort); // environment wins over the file
        Assert.Equal(30, s.Heartbeat); // file wins over hocon/
        Assert.Equal(new[] { "/", "from-file" }, s.VirtualHosts);
        Assert.Equal(131072, s.FrameMax); // untouched: from hocon/
    }

    [Fact]
    public void Bad_value_in_the_config_file_is_reported()
    {
        string file = Path.Combine(_temp, "bad.conf");
        File.WriteAllText(file, "broker.amqp.frame-max = 10\n");
        var e = Bad(("BROKER_CONFIG_FILE", file));
        Assert.Contains("broker.amqp.frame-max", e.Message);
    }

    [Fact]
    public void Missing_config_file_names_BROKER_CONFIG_FILE()
    {
        string missing = Path.Combine(_temp, "nope.conf");
        var e = Bad(("BROKER_CONFIG_FILE", missing));
        Assert.Contains("BROKER_CONFIG_FILE", e.Message);
        Assert.Contains(missing, e.Message);
    }

    [Fact]
    public void Akka_config_is_a_cluster_with_sharding_settings()
    {
        var (_, akka) = BrokerConfig.Load(Env(), RepoPaths.HoconDir);
        Assert.Equal("cluster", akka.GetString("akka.actor.provider"));
        Assert.Equal("ddata", akka.GetString("akka.cluster.sharding.state-store-mode"));
        Assert.True(akka.GetBoolean("akka.cluster.sharding.remember-entities"));
        Assert.Equal("eventsourced", akka.GetString("akka.cluster.sharding.remember-entities-store"));
        Assert.Equal("INFO", akka.GetString("akka.loglevel"));
    }

    [Fact]
    public void Akka_config_carries_the_environment_overlay()
    {
        var (_, akka) = BrokerConfig.Load(
            Env(("BROKER_LOG_LEVEL", "DEBUG"), ("BROKER_CLUSTER_PORT", "2552"), ("BROKER_CLUSTER_HOSTNAME", "10.0.0.1")),
            RepoPaths.HoconDir);
        Assert.Equal("DEBUG", akka.GetString("akka.loglevel"));
        Assert.Equal(2552, akka.GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.Equal("10.0.0.1", akka.GetString("akka.remote.dot-netty.tcp.hostname"));
    }

    [Fact]
    public void Missing_hocon_folder_is_a_configuration_error()
    {
        var e = Assert.Throws<ConfigurationException>(() => BrokerConfig.Load(Env(), Path.Combine(_temp, "no-hocon")));
        Assert.Contains("akka.conf", e.Message);
    }
}
