using System.Globalization;
using Akka.Configuration;

namespace Broker.Node;

/// <summary>
/// Turns broker.cluster (seeds, names) and the Akka.Remote endpoint into cluster settings. A node
/// without seeds is a cluster of one that joins itself; with seeds it joins them (the first seed
/// that answers, or itself if it is the first seed and nobody else is up yet).
/// </summary>
public sealed record ClusterConfig(Config Akka, bool IsMultiNode, string NodeName, string ClusterName, IReadOnlyList<string> SeedNodes)
{
    public static ClusterConfig From(Config config)
    {
        string host = config.GetString("akka.remote.dot-netty.tcp.hostname") ?? "127.0.0.1";
        string publicHost = config.GetString("akka.remote.dot-netty.tcp.public-hostname") ?? string.Empty;
        int port = config.GetInt("akka.remote.dot-netty.tcp.port");
        var seeds = config.GetStringList("broker.cluster.seeds").Select(s => s.Trim()).Where(s => s.Length > 0)
            .Select(ParseSeed).ToList();
        bool wildcard = host is "0.0.0.0" or "::" or "[::]";
        if (publicHost.Length == 0)
        {
            if (seeds.Count > 0 && wildcard)
            {
                throw new ConfigurationException("akka.remote.dot-netty.tcp.public-hostname", "BROKER_CLUSTER_PUBLIC_HOSTNAME",
                    $"must be set when the cluster endpoint binds to {host}: it is the name other nodes dial");
            }

            publicHost = host;
        }

        if (seeds.Count > 0 && port == 0)
        {
            throw new ConfigurationException("akka.remote.dot-netty.tcp.port", "BROKER_CLUSTER_PORT",
                "must be a fixed port when BROKER_CLUSTER_SEEDS is set: the seeds list it");
        }

        // The port other nodes dial: a different one when the endpoint is behind a NAT or a proxy.
        int publicPort = config.HasPath("akka.remote.dot-netty.tcp.public-port") && config.GetInt("akka.remote.dot-netty.tcp.public-port") > 0
            ? config.GetInt("akka.remote.dot-netty.tcp.public-port")
            : port;
        bool multiNode = seeds.Any(s => !(s.Port == publicPort && string.Equals(s.Host, publicHost, StringComparison.OrdinalIgnoreCase)));
        string nodeName = config.GetString("broker.cluster.node-name") is { Length: > 0 } n
            ? n
            : seeds.Count > 0 ? $"broker@{publicHost}:{publicPort}" : "broker@" + Environment.MachineName;
        string clusterName = config.GetString("broker.cluster.name") is { Length: > 0 } c
            ? c
            : seeds.Count > 0 ? "broker@" + seeds[0].Host : "broker@" + Environment.MachineName;

        // Not akka.cluster.seed-nodes: with those the node would join as soon as its actor system
        // starts, before its journal, topology replica and shard regions are ready. The broker
        // joins the seeds itself once they are (BrokerServer).
        var seedNodes = seeds.Select(s => $"akka.tcp://{Broker.Actors.BrokerServer.SystemName}@{s.Host}:{s.Port}").ToList();
        var akka = ConfigurationFactory.ParseString($"akka.remote.dot-netty.tcp.public-hostname = {BrokerConfig.Quote(publicHost)}");
        return new ClusterConfig(akka, multiNode, nodeName, clusterName, seedNodes);
    }

    private static (string Host, int Port) ParseSeed(string seed)
    {
        int colon = seed.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(seed[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port) ||
            port is < 1 or > 65535)
        {
            throw new ConfigurationException("broker.cluster.seeds", "BROKER_CLUSTER_SEEDS",
                $"'{seed}' is not host:port (seeds are comma-separated host:port pairs of cluster endpoints)");
        }

        return (seed[..colon], port);
    }
}
