using Broker.Actors;

namespace Broker.Node;

/// <summary>Starts a broker node from an environment: what Program does, and what tests do in-process.</summary>
public static class NodeHost
{
    public static Task<BrokerServer> StartAsync(IReadOnlyDictionary<string, string> env, CancellationToken ct = default)
    {
        var (settings, akka) = BrokerConfig.Load(env);
        return BrokerServer.StartAsync(settings, akka, ct);
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
