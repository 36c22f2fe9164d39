using Broker.Node.Management;

namespace Broker.Node.Tests;

/// <summary>The API router and the management settings.</summary>
public sealed class ManagementRoutingTests
{
    private static readonly ApiHandler Nothing = _ => Task.CompletedTask;

    [Fact]
    public void Segments_are_decoded_once_so_the_vhost_slash_is_one_segment()
    {
        Assert.Equal(["queues", "/", "my queue"], ApiRouter.Segments("/api/queues/%2F/my%20queue?columns=name"));
        Assert.Equal(["queues", "a%2Fb"], ApiRouter.Segments("/api/queues/a%252Fb"));
        Assert.Equal(["overview"], ApiRouter.Segments("/api/overview/"));
    }

    [Fact]
    public void Routes_match_by_method_and_shape_and_a_known_path_with_another_method_is_405()
    {
        ApiHandler show = _ => Task.CompletedTask;
        var router = new ApiRouter().Map("GET", "queues/{vhost}/{name}", show).Map("GET", "queues/{vhost}", Nothing);
        var (handler, values, _) = router.Find("GET", ["queues", "/", "q1"]);
        Assert.Same(show, handler);
        Assert.Equal("/", values["vhost"]);
        Assert.Equal("q1", values["name"]);
        Assert.Same(show, router.Find("HEAD", ["queues", "/", "q1"]).Handler);

        var (none, _, known) = router.Find("POST", ["queues", "/", "q1"]);
        Assert.Null(none);
        Assert.True(known);
        Assert.False(router.Find("GET", ["nothing"]).PathKnown);
    }

    [Fact]
    public void Management_ports_default_to_RabbitMQs_and_can_be_turned_off()
    {
        var (_, akka) = BrokerConfig.Load(new Dictionary<string, string> { ["BROKER_DATA_DIR"] = Path.Combine(Path.GetTempPath(), "mgmt-config") });
        var settings = ManagementConfig.From(akka);
        Assert.Equal(15672, settings.Port);
        Assert.Equal(15692, settings.PrometheusPort);
        Assert.Equal("127.0.0.1", settings.BindAddress.ToString());

        (_, akka) = BrokerConfig.Load(new Dictionary<string, string>
        {
            ["BROKER_DATA_DIR"] = Path.Combine(Path.GetTempPath(), "mgmt-config"),
            ["BROKER_MANAGEMENT_PORT"] = "off",
            ["BROKER_PROMETHEUS_PORT"] = "0",
            ["BROKER_MANAGEMENT_BIND_ADDRESS"] = "0.0.0.0",
        });
        settings = ManagementConfig.From(akka);
        Assert.Null(settings.Port);
        Assert.Equal(0, settings.PrometheusPort);

        (_, akka) = BrokerConfig.Load(new Dictionary<string, string>
        {
            ["BROKER_DATA_DIR"] = Path.Combine(Path.GetTempPath(), "mgmt-config"),
            ["BROKER_MANAGEMENT_PORT"] = "http",
        });
        var error = Assert.Throws<ConfigurationException>(() => ManagementConfig.From(akka));
        Assert.Contains("BROKER_MANAGEMENT_PORT", error.Message);
    }
}
