using System.Net;
using Akka.Configuration;

namespace Broker.Node.Management;

/// <summary>Where the management HTTP API (and web UI) and the Prometheus endpoint listen; a null port means off.</summary>
public sealed record ManagementSettings(IPAddress BindAddress, int? Port, int? PrometheusPort);

/// <summary>broker.management: read and checked at start, like every other setting.</summary>
public static class ManagementConfig
{
    public static ManagementSettings From(Config c)
    {
        string bind = c.GetString("broker.management.bind-address") ?? "127.0.0.1";
        if (!IPAddress.TryParse(bind, out var address))
        {
            throw new ConfigurationException("broker.management.bind-address", "BROKER_MANAGEMENT_BIND_ADDRESS", $"'{bind}' is not an IP address");
        }

        return new ManagementSettings(address,
            Port(c, "broker.management.port", "BROKER_MANAGEMENT_PORT", "15672"),
            Port(c, "broker.management.prometheus-port", "BROKER_PROMETHEUS_PORT", "15692"));
    }

    private static int? Port(Config c, string path, string env, string fallback)
    {
        string raw = c.GetString(path) ?? fallback;
        if (raw is "off" or "none" or "false")
        {
            return null;
        }

        if (!int.TryParse(raw, out int port) || port is < 0 or > 65535)
        {
            throw new ConfigurationException(path, env, $"'{raw}' is not a port number (0 for any free port, off for none)");
        }

        return port;
    }
}
