using System.Net;
using Broker.Actors.Alarms;

namespace Broker.Node;

/// <summary>
/// What the node prints once it serves: who it is, where to reach it, where its data is, which
/// cluster it is in, and its limits. Akka's own start-up lines stay at DEBUG (Logging/NodeConsoleLogger).
/// The last line is the ready line scripts and tests wait for ("broker: AMQP 0-9-1 listening on ...").
/// </summary>
public static class StartupBanner
{
    public static IEnumerable<string> Lines(BrokerNode node)
    {
        var server = node.Server;
        var s = server.Context.Settings;
        var alarms = server.Context.Alarms;
        var members = Akka.Cluster.Cluster.Get(server.Actors).State.Members
            .Where(m => m.Status == Akka.Cluster.MemberStatus.Up).Select(m => m.Address.ToString()).ToList();
        yield return $"broker: Broker {Management.OverviewApi.ProductVersion} (AMQP 0-9-1, .NET {Environment.Version}), node {s.NodeName}, pid {Environment.ProcessId}";
        yield return $"broker: journal: {s.JournalDescription}";
        yield return members.Count <= 1
            ? $"broker: cluster '{s.ClusterName}': this node alone"
            : $"broker: cluster '{s.ClusterName}': {members.Count} members up ({string.Join(", ", members)})";
        yield return $"broker: limits: memory high watermark {ByteSize.Format(alarms.MemoryLimit)} ({alarms.MemoryWatermark}" +
                     (alarms.MemoryWatermark.Relative is null ? ")" : $" of {ByteSize.Format(ResourceAlarms.AvailableMemory)})") +
                     $", disk free limit {ByteSize.Format(alarms.DiskFreeLimit)}, connections {s.ConnectionMax?.ToString() ?? "unlimited"}";
        // Tests and scripts read the management port from this line.
        if (node.Management?.Endpoint is { } http)
        {
            string metrics = node.Management.PrometheusEndpoint is { } p ? $" (Prometheus metrics on http://{p}/metrics)" : string.Empty;
            yield return $"broker: management UI and HTTP API on http://{http}/{metrics}";
        }

        string amqps = server.AmqpsListeners.Count > 0 ? $", amqps on {Join(server.AmqpsListeners)}" : string.Empty;
        yield return $"broker: AMQP 0-9-1 listening on {Join(server.AmqpListeners)}{amqps} (data in {Path.GetFullPath(s.DataDirectory)})";
    }

    private static string Join(IEnumerable<EndPoint> endpoints) => string.Join(" and ", endpoints);
}
