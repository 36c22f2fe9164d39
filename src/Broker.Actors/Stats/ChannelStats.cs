using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace Broker.Actors.Stats;

/// <summary>What the management API shows of one channel of this node; its ChannelActor is the only writer.</summary>
public sealed class ChannelStats(ConnectionStats connection, int number, string vhost, string user)
{
    public ConnectionStats Connection { get; } = connection;
    public int Number { get; } = number;
    public string VHost { get; } = vhost;
    public string User { get; } = user;

    /// <summary>RabbitMQ's channel name: the connection's name and the channel number.</summary>
    public string Name => $"{Connection.Name} ({Number})";

    public readonly MessageCounters Counters = new();
    public volatile bool Confirm;
    public volatile bool Transactional;
    public int Prefetch;
    public int GlobalPrefetch;
    public int Unacked;
    public int Unconfirmed;

    /// <summary>
    /// Publishes per exchange, [in, out]: the channel adds an exchange once and then only
    /// increments the array it holds; the sampler sums them over the node's channels.
    /// </summary>
    public readonly ConcurrentDictionary<string, long[]> ExchangePublishes = new(StringComparer.Ordinal);

    /// <summary>Replaced whole on consume and cancel (rare), so a reader never sees it change under it.</summary>
    public volatile ImmutableList<ConsumerInfo> Consumers = ImmutableList<ConsumerInfo>.Empty;
}

/// <summary>One consumer, as /api/consumers lists it.</summary>
public sealed record ConsumerInfo(string Tag, string Queue, bool AckRequired, bool Exclusive, int Prefetch, Protocol.FieldTable Arguments);
