using System.Text.Json.Nodes;

namespace Broker.Actors.Stats;

/// <summary>
/// What the management API shows of one AMQP connection of this node. Set by its ConnectionActor
/// (the handshake's results, the channel count) and by its socket's stream stages (bytes in/out).
/// </summary>
public sealed class ConnectionStats(string name, string peerHost, int peerPort, string host, int port, bool ssl)
{
    public string Name { get; } = name;
    public string PeerHost { get; } = peerHost;
    public int PeerPort { get; } = peerPort;
    public string Host { get; } = host;
    public int Port { get; } = port;
    public bool Ssl { get; } = ssl;
    public long ConnectedAt { get; } = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <summary>"starting", "tuning", "opening", "running", "blocked" (publishes held by a queue) or "closing".</summary>
    public volatile string State = "starting";
    public volatile string User = string.Empty;
    public volatile string VHost = string.Empty;
    public volatile string AuthMechanism = string.Empty;

    /// <summary>The management API's own session: the node's, not a client's (no connection limit counts it).</summary>
    public volatile bool Internal;

    /// <summary>The client's properties as JSON (set once at start-ok).</summary>
    public volatile JsonObject? ClientProperties;
    public int FrameMax;
    public int ChannelMax;
    public int Heartbeat;
    public int Channels;

    /// <summary>Written by the inbound stream stage only.</summary>
    public long ReceivedBytes;
    public long ReceivedFrames;

    /// <summary>Written by the outbound stream only.</summary>
    public long SentBytes;
    public long SentWrites;

    /// <summary>Octet rates; the sampler's own counters (recv_oct, send_oct), copied from the fields above.</summary>
    public readonly RateCounter ReceivedRate = new();
    public readonly RateCounter SentRate = new();

    public void Sample(long nowMs)
    {
        ReceivedRate.Sample(Volatile.Read(ref ReceivedBytes), nowMs);
        SentRate.Sample(Volatile.Read(ref SentBytes), nowMs);
    }
}
