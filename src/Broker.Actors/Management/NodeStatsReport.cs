using System.Text.Json.Nodes;
using Broker.Actors.Cluster;
using Broker.Actors.Stats;

namespace Broker.Actors.Management;

/// <summary>Asks a node's ManagementActor for its <see cref="NodeStatsReport"/>.</summary>
public sealed class CollectNodeStats : IClusterMessage
{
    public static readonly CollectNodeStats Instance = new();

    private CollectNodeStats()
    {
    }
}

/// <summary>
/// One node's live numbers, as its management API merges them with the other nodes': its
/// connections, channels (with their consumers), the queues it runs, its share of each exchange's
/// counters, node-wide totals and its recent connection closes. Counters are totals since the
/// object appeared; rates per second over the last few seconds (enum order of MessageStat).
/// </summary>
public sealed record NodeStatsReport(
    NodeSample Node,
    long[] Totals,
    double[] Rates,
    List<ConnectionSample> Connections,
    List<ChannelSample> Channels,
    List<QueueSample> Queues,
    List<ExchangeSample> Exchanges,
    List<ClosedConnection> Closed) : IClusterMessage;

public sealed record NodeSample(
    string Name,
    long StartedAt,
    long MemUsed,
    long MemLimit,
    long DiskFree,
    int FdUsed,
    int FdTotal,
    int Threads,
    int Processors,
    int Pid,
    long ConnectionsOpened,
    long ConnectionsClosed,
    long ChannelsOpened,
    long ChannelsClosed,
    long QueuesDeclared,
    long QueuesCreated,
    long QueuesDeleted,
    long[] JournalWriteBuckets,
    double JournalWriteSeconds,
    long DiskFreeLimit,
    bool MemAlarm,
    bool DiskAlarm);

public sealed record ConnectionSample(
    string Name,
    string Node,
    string User,
    string VHost,
    string PeerHost,
    int PeerPort,
    string Host,
    int Port,
    bool Ssl,
    string State,
    string AuthMechanism,
    JsonObject? ClientProperties,
    long ConnectedAt,
    int FrameMax,
    int ChannelMax,
    int Heartbeat,
    int Channels,
    long RecvOct,
    long RecvCnt,
    long SendOct,
    long SendCnt,
    double RecvRate,
    double SendRate);

public sealed record ChannelSample(
    string Name,
    string Node,
    string ConnectionName,
    string PeerHost,
    int PeerPort,
    int Number,
    string User,
    string VHost,
    bool Confirm,
    bool Transactional,
    int Prefetch,
    int GlobalPrefetch,
    int Unacked,
    int Unconfirmed,
    long[] Totals,
    double[] Rates,
    List<ConsumerSample> Consumers);

public sealed record ConsumerSample(string Tag, string Queue, bool AckRequired, bool Exclusive, int Prefetch, JsonObject Arguments);

public sealed record QueueSample(
    string VHost,
    string Name,
    string Node,
    int Ready,
    int Unacked,
    int Consumers,
    long ReadyBytes,
    long[] Totals,
    double[] Rates);

public sealed record ExchangeSample(string VHost, string Name, long[] Totals, double[] Rates);

/// <summary>Asks the node that has the named connection to close it with 320 CONNECTION_FORCED; answered with ConnectionCloseResult.</summary>
public sealed record CloseConnectionByName(string Name, string Reason) : IClusterMessage;

public sealed record ConnectionCloseResult(bool Found) : IClusterMessage;
