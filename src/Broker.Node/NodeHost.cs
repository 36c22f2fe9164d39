using Broker.Actors;
using Broker.Node.Management;

namespace Broker.Node;

/// <summary>Starts a broker node from an environment: what Program does, and what tests do in-process.</summary>
public static class NodeHost
{
    public static async Task<BrokerNode> StartAsync(IReadOnlyDictionary<string, string> env, CancellationToken ct = default)
    {
        var (settings, akka) = BrokerConfig.Load(env);
        var management = ManagementConfig.From(akka);
        var server = await BrokerServer.StartAsync(settings, akka, ct);
        try
        {
            return new BrokerNode(server, await ManagementServer.StartAsync(management, server));
        }
        catch
        {
            await server.StopAsync("the management listener could not start");
            throw;
        }
    }

    public static IReadOnlyDictionary<string, string> ProcessEnvironment()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            result[(string)e.Key] = (string?)e.Value ?? string.Empty;
        }

        return result;
    }
}
