using System.Collections.Concurrent;

namespace Broker.Actors.Stats;

/// <summary>
/// This node's live statistics: every connection, channel and queue actor registers its stats
/// object here for its lifetime; exchanges' counters live here by name (channels on any thread
/// add to them). The node's ManagementActor samples the rates once a second and reports them to
/// whichever node's management API asks. The hot path only increments fields of those objects.
/// </summary>
public sealed class StatsRegistry
{
    private readonly ConcurrentDictionary<ConnectionStats, byte> _connections = new();
    private readonly ConcurrentDictionary<ChannelStats, byte> _channels = new();
    private readonly ConcurrentDictionary<QueueStats, byte> _queues = new();
    private readonly ConcurrentDictionary<(string VHost, string Name), MessageCounters> _exchanges = new();

    /// <summary>The counters of this node's channels that are gone (global totals never go back).</summary>
    private readonly MessageCounters _retired = new();

    /// <summary>Node-wide message totals (RabbitMQ's rabbitmq_global_* and the overview's message_stats); written by the sampler.</summary>
    public MessageCounters Global { get; } = new();

    public LifecycleCounters Lifecycle { get; } = new();

    public ClosedConnections Closed { get; } = new(capacity: 100);

    public JournalWriteHistogram JournalWrites { get; } = new();

    public IEnumerable<ConnectionStats> Connections => _connections.Keys;

    public IEnumerable<ChannelStats> Channels => _channels.Keys;

    public IEnumerable<QueueStats> Queues => _queues.Keys;

    public IEnumerable<KeyValuePair<(string VHost, string Name), MessageCounters>> Exchanges => _exchanges;

    public void Add(ConnectionStats c)
    {
        _connections[c] = 0;
        Lifecycle.Add(ref Lifecycle.ConnectionsOpened);
    }

    public void Remove(ConnectionStats c)
    {
        if (_connections.TryRemove(c, out _))
        {
            Lifecycle.Add(ref Lifecycle.ConnectionsClosed);
        }
    }

    public void Add(ChannelStats c)
    {
        _channels[c] = 0;
        Lifecycle.Add(ref Lifecycle.ChannelsOpened);
    }

    public void Remove(ChannelStats c)
    {
        if (!_channels.TryRemove(c, out _))
        {
            return;
        }

        Lifecycle.Add(ref Lifecycle.ChannelsClosed);
        for (int i = 0; i < MessageStats.Count; i++)
        {
            Interlocked.Add(ref _retired.Values[i], Volatile.Read(ref c.Counters.Values[i]));
        }
    }

    public void Add(QueueStats q) => _queues[q] = 0;

    public void Remove(QueueStats q) => _queues.TryRemove(q, out _);

    /// <summary>The counters of an exchange on this node (created on first use; kept while the exchange exists).</summary>
    public MessageCounters Exchange(string vhost, string name) => _exchanges.GetOrAdd((vhost, name), _ => new MessageCounters());

    public void ForgetExchange(string vhost, string name) => _exchanges.TryRemove((vhost, name), out _);

    /// <summary>Once a second: totals the channels' counters into <see cref="Global"/> and recomputes every rate.</summary>
    public void Sample(long nowMs)
    {
        var totals = _retired.Snapshot();
        foreach (var channel in _channels.Keys)
        {
            channel.Counters.Sample(nowMs);
            for (int i = 0; i < totals.Length; i++)
            {
                totals[i] += Volatile.Read(ref channel.Counters.Values[i]);
            }
        }

        Array.Copy(totals, Global.Values, totals.Length);
        Global.Sample(nowMs);
        foreach (var connection in _connections.Keys)
        {
            connection.Sample(nowMs);
        }

        foreach (var queue in _queues.Keys)
        {
            queue.Counters.Sample(nowMs);
        }

        foreach (var exchange in _exchanges.Values)
        {
            exchange.Sample(nowMs);
        }
    }
}

/// <summary>How many connections, channels and queues came and went on this node (Prometheus's *_total counters).</summary>
public sealed class LifecycleCounters
{
    public long ConnectionsOpened;
    public long ConnectionsClosed;
    public long ChannelsOpened;
    public long ChannelsClosed;
    public long QueuesDeclared;
    public long QueuesCreated;
    public long QueuesDeleted;

    public void Add(ref long counter) => Interlocked.Increment(ref counter);
}
