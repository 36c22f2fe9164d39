using Broker.Actors.Alarms;
using Broker.Actors.Stats;

namespace Broker.Actors.Management;

/// <summary>Reads this node's statistics registry and process figures into a <see cref="NodeStatsReport"/>.</summary>
public static class NodeStatsReader
{
    private static readonly long StartedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public static NodeStatsReport Read(BrokerContext broker)
    {
        var stats = broker.Stats;
        string node = broker.Settings.NodeName;
        var connections = broker.Connections.Stats.Select(c => new ConnectionSample(
            c.Name, node, c.User, c.VHost, c.PeerHost, c.PeerPort, c.Host, c.Port, c.Ssl, c.State, c.AuthMechanism,
            c.ClientProperties?.DeepClone().AsObject(), c.ConnectedAt, c.FrameMax, c.ChannelMax, c.Heartbeat, c.Channels,
            Volatile.Read(ref c.ReceivedBytes), Volatile.Read(ref c.ReceivedFrames), Volatile.Read(ref c.SentBytes),
            Volatile.Read(ref c.SentWrites), c.ReceivedRate.Rate, c.SentRate.Rate)).ToList();
        var channels = stats.Channels.Select(c => new ChannelSample(
            c.Name, node, c.Connection.Name, c.Connection.PeerHost, c.Connection.PeerPort, c.Number, c.User, c.VHost,
            c.Confirm, c.Transactional, c.Prefetch, c.GlobalPrefetch, c.Unacked, c.Unconfirmed,
            c.Counters.Snapshot(), c.Counters.Rates,
            c.Consumers.Select(k => new ConsumerSample(k.Tag, k.Queue, k.AckRequired, k.Exclusive, k.Prefetch,
                FieldTableJson.ToJson(k.Arguments))).ToList())).ToList();
        var queues = stats.Queues.Select(q => new QueueSample(
            q.VHost, q.Name, node, q.Ready, q.Unacked, q.Consumers, q.ReadyBytes, q.Counters.Snapshot(), q.Counters.Rates)).ToList();
        var exchanges = stats.Exchanges.Select(e => new ExchangeSample(e.Key.VHost, e.Key.Name, e.Value.Snapshot(), e.Value.Rates)).ToList();
        return new NodeStatsReport(ReadNode(broker), stats.Global.Snapshot(), stats.Global.Rates, connections, channels, queues,
            exchanges, stats.Closed.Recent());
    }

    private static NodeSample ReadNode(BrokerContext broker)
    {
        var s = broker.Stats;
        var l = s.Lifecycle;
        var (buckets, sum) = s.JournalWrites.Read();
        string node = broker.Settings.NodeName;
        var alarms = broker.Alarms.Current;
        return new NodeSample(
            broker.Settings.NodeName,
            StartedAt,
            Environment.WorkingSet,
            broker.Alarms.MemoryLimit,
            DiskSpace.FreeBytes(broker.Settings.DataDirectory) ?? 0,
            OpenFileDescriptors(),
            MaxFileDescriptors(),
            ThreadCount(),
            Environment.ProcessorCount,
            Environment.ProcessId,
            Volatile.Read(ref l.ConnectionsOpened),
            Volatile.Read(ref l.ConnectionsClosed),
            Volatile.Read(ref l.ChannelsOpened),
            Volatile.Read(ref l.ChannelsClosed),
            Volatile.Read(ref l.QueuesDeclared),
            Volatile.Read(ref l.QueuesCreated),
            Volatile.Read(ref l.QueuesDeleted),
            buckets,
            sum,
            broker.Alarms.DiskFreeLimit,
            alarms.Any(a => a.Node == node && a.Resource == AlarmResource.Memory),
            alarms.Any(a => a.Node == node && a.Resource == AlarmResource.Disk));
    }

    /// <summary>The process's threads, from /proc/self/status (cheap, unlike enumerating them).</summary>
    private static int ThreadCount()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Threads:", StringComparison.Ordinal))
                {
                    return int.TryParse(line["Threads:".Length..].Trim(), out int n) ? n : 0;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return 0;
    }

    private static int OpenFileDescriptors()
    {
        try
        {
            return Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>The soft limit on open files, from /proc/self/limits (0 where there is none).</summary>
    private static int MaxFileDescriptors()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var parts = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return int.TryParse(parts[0], out int n) ? n : 0;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return 0;
    }
}
