using System.Collections.Concurrent;

namespace Broker.Actors.Stats;

/// <summary>
/// This node's live statistics: every channel and queue actor registers its stats object here for
/// its lifetime (connections' are in the node's ConnectionRegistry). The node's ManagementActor samples the rates once a second
/// (node totals and exchanges' counters are sums over the channels, live and closed) and reports
/// them to whichever node's management API asks. The hot path only increments fields.
/// </summary>
public sealed class StatsRegistry
{
    private readonly ConcurrentDictionary<ChannelStats, byte> _channels = new();
    private readonly ConcurrentDictionary<QueueStats, byte> _queues = new();
    private readonly ConcurrentDictionary<(string VHost, string Name), MessageCounters> _exchanges = new();

    /// <summary>The counters of this node's channels that are gone (global totals never go back).</summary>
    private readonly MessageCounters _retired = new();

    /// <summary>Publishes [in, out] per exchange of the channels that are gone.</summary>
    private readonly Dictionary<(string VHost, string Name), long[]> _retiredExchanges = new();

    /// <summary>A closing channel moves its counts to the retired ones and the sampler sums both under this lock: no count is seen twice or missed.</summary>
    private readonly object _retireGate = new();

    /// <summary>Node-wide message totals (RabbitMQ's rabbitmq_global_* and the overview's message_stats); written by the sampler.</summary>
    public MessageCounters Global { get; } = new();

    public LifecycleCounters Lifecycle { get; } = new();

    public ClosedConnections Closed { get; } = new(capacity: 100);

    public JournalWriteHistogram JournalWrites { get; } = new();

    public IEnumerable<ChannelStats> Channels => _channels.Keys;

    public IEnumerable<QueueStats> Queues => _queues.Keys;

    public IEnumerable<KeyValuePair<(string VHost, string Name), MessageCounters>> Exchanges => _exchanges;

    public void Add(ChannelStats c)
    {
        _channels[c] = 0;
        Lifecycle.Add(ref Lifecycle.ChannelsOpened);
    }

    public void Remove(ChannelStats c)
    {
        lock (_retireGate)
        {
            if (!_channels.TryRemove(c, out _))
            {
                return;
            }

            for (int i = 0; i < MessageStats.Count; i++)
            {
                _retired.Values[i] += Volatile.Read(ref c.Counters.Values[i]);
            }

            foreach (var (exchange, counts) in c.ExchangePublishes)
            {
                var key = (c.VHost, exchange);
                var retired = _retiredExchanges.TryGetValue(key, out var r) ? r : _retiredExchanges[key] = new long[2];
                retired[0] += Volatile.Read(ref counts[0]);
                retired[1] += Volatile.Read(ref counts[1]);
            }
        }

        Lifecycle.Add(ref Lifecycle.ChannelsClosed);
    }

    public void Add(QueueStats q) => _queues[q] = 0;

    public void Remove(QueueStats q) => _queues.TryRemove(q, out _);

    /// <summary>The counters of an exchange on this node (its channels' publishes to it), as of the last sample.</summary>
    public MessageCounters Exchange(string vhost, string name) => _exchanges.GetOrAdd((vhost, name), _ => new MessageCounters());

    /// <summary>Forgets a deleted exchange's counts (a namesake declared later starts from zero, for the channels that never published to the old one).</summary>
    public void ForgetExchange(string vhost, string name)
    {
        lock (_retireGate)
        {
            _exchanges.TryRemove((vhost, name), out _);
            _retiredExchanges.Remove((vhost, name));
        }
    }

    /// <summary>Once a second: totals the channels' counters into <see cref="Global"/> and the exchanges', and recomputes every rate.</summary>
    public void Sample(long nowMs)
    {
        long[] totals;
        var exchanges = new Dictionary<(string VHost, string Name), long[]>();
        lock (_retireGate)
        {
            totals = _retired.Snapshot();
            foreach (var (key, counts) in _retiredExchanges)
            {
                exchanges[key] = [counts[0], counts[1]];
            }

            foreach (var channel in _channels.Keys)
            {
                for (int i = 0; i < totals.Length; i++)
                {
                    totals[i] += Volatile.Read(ref channel.Counters.Values[i]);
                }

                foreach (var (exchange, counts) in channel.ExchangePublishes)
                {
                    var key = (channel.VHost, exchange);
                    var sum = exchanges.TryGetValue(key, out var e) ? e : exchanges[key] = new long[2];
                    sum[0] += Volatile.Read(ref counts[0]);
                    sum[1] += Volatile.Read(ref counts[1]);
                }
            }
        }

        foreach (var channel in _channels.Keys)
        {
            channel.Counters.Sample(nowMs);
        }

        foreach (var (key, counts) in exchanges)
        {
            var counters = Exchange(key.VHost, key.Name);
            // Never below what was shown: a forgotten exchange's channel counts may still come back.
            counters.Values[(int)MessageStat.PublishIn] = Math.Max(counters.Values[(int)MessageStat.PublishIn], counts[0]);
            counters.Values[(int)MessageStat.PublishOut] = Math.Max(counters.Values[(int)MessageStat.PublishOut], counts[1]);
        }

        Array.Copy(totals, Global.Values, totals.Length);
        Global.Sample(nowMs);
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
