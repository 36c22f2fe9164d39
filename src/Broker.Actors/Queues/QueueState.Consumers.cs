using Broker.Protocol;

namespace Broker.Actors.Queues;

/// <summary>Consumers, deliveries, basic.get, settlements and channels that go away.</summary>
internal sealed partial class QueueState<TChannel>
{
    private readonly Dictionary<long, Unacked<TChannel>> _unacked = new();

    /// <summary>In descending x-priority, in the order they came within a priority.</summary>
    private readonly List<Consumer<TChannel>> _consumers = new();

    private int _roundRobin;

    /// <summary>Some consumer has a non-zero x-priority: delivery looks at priority groups.</summary>
    private bool _consumerPriorities;

    public int UnackedCount => _unacked.Count;

    public int ConsumerCount => _consumers.Count;

    /// <summary>A consumer was ever added (auto-delete applies only after the first one).</summary>
    public bool HadConsumers { get; private set; }

    public IReadOnlyList<Consumer<TChannel>> Consumers => _consumers;

    /// <summary>
    /// basic.consume. Null when added; otherwise the error to refuse it with. Nothing is delivered
    /// yet: the owner confirms the consumer to its channel first (a delivery must not overtake
    /// consume-ok), then calls DeliverReady.
    /// </summary>
    public AmqpException? AddConsumer(Consumer<TChannel> consumer, string queueText)
    {
        // RabbitMQ 3.10 refuses an exclusive consumer on a classic single-active-consumer queue even
        // when it would be the only one (a quorum queue takes it).
        bool sacRefusesExclusive = Arguments.SingleActiveConsumer && !Arguments.CountsDeliveries;
        if ((_consumers.Count > 0 || sacRefusesExclusive) && (consumer.Exclusive || _consumers.Exists(c => c.Exclusive)))
        {
            return AmqpException.AccessRefused($"{queueText} in exclusive use");
        }

        // With a single active consumer the first one stays active whatever the priorities (as in RabbitMQ 3.10).
        int at = Arguments.SingleActiveConsumer ? -1 : _consumers.FindIndex(c => c.Priority < consumer.Priority);
        _consumers.Insert(at < 0 ? _consumers.Count : at, consumer);
        _consumerPriorities |= consumer.Priority != 0;
        HadConsumers = true;
        return null;
    }

    /// <summary>basic.cancel. The single active consumer's successor takes over.</summary>
    public bool RemoveConsumer(string tag, TChannel channel, long now)
    {
        int i = _consumers.FindIndex(c => c.Tag == tag && c.Channel.Equals(channel));
        if (i < 0)
        {
            return false;
        }

        _consumers.RemoveAt(i);
        DeliverReady(now);
        return true;
    }

    /// <summary>The channel reported how many deliveries to a consumer it handed to the socket in all.</summary>
    public void DeliveryCredit(string tag, TChannel channel, long written, long now)
    {
        var c = _consumers.Find(x => x.Tag == tag && x.Channel.Equals(channel));
        if (c is not null && written > c.Credited)
        {
            c.Credited = Math.Min(written, c.Delivered);
            DeliverReady(now);
        }
    }

    /// <summary>A consumer's prefetch changed (basic.qos after basic.consume).</summary>
    public void ChangePrefetch(string tag, TChannel channel, ushort prefetch, long now)
    {
        if (_consumers.Find(x => x.Tag == tag && x.Channel.Equals(channel)) is { } c)
        {
            c.Prefetch = prefetch;
            DeliverReady(now);
        }
    }

    /// <summary>Delivers to consumers with credit, in priority then round-robin order. Returns how many.</summary>
    public int DeliverReady(long now)
    {
        int delivered = 0;
        while (_ready.Count > 0 && _consumers.Count > 0 && !DeliveriesHeld)
        {
            var m = _ready.PeekFront();
            if (m.ExpiresAt != 0 && m.ExpiresAt < now)
            {
                DeadLetter(_ready.PopFront(), DeathReason.Expired);
                continue;
            }

            var target = NextConsumer();
            if (target is null)
            {
                break;
            }

            if (!MayDeliver(m))
            {
                _effects.WatermarkNeeded(m.Id);
                break;
            }

            _ready.PopFront();
            if (target.NoAck)
            {
                _effects.Removed(m);
            }
            else
            {
                _unacked[m.Id] = new Unacked<TChannel>(m, target.Channel, target);
                target.InFlight++;
            }

            target.Delivered++;
            delivered++;
            _effects.Deliver(target, m);
        }

        AskForExpiry();
        return delivered;
    }

    /// <summary>
    /// basic.get: the next message, or null when there is none or (waitForWatermark) when it may be
    /// handed out only once a watermark is written (WatermarkNeeded was asked for; try again then).
    /// </summary>
    public QueuedMessage? Get(TChannel channel, bool noAck, long now, out bool waitForWatermark)
    {
        waitForWatermark = false;
        if (DeliveriesHeld)
        {
            return null;
        }

        if (ExpireHeads(now) > 0)
        {
            // Consumers blocked behind an expired head (waiting for its watermark) go first.
            DeliverReady(now);
        }

        if (_ready.Count == 0)
        {
            return null;
        }

        var m = _ready.PeekFront();
        if (!MayDeliver(m))
        {
            waitForWatermark = true;
            _effects.WatermarkNeeded(m.Id);
            return null;
        }

        _ready.PopFront();
        if (noAck)
        {
            _effects.Removed(m);
        }
        else
        {
            _unacked[m.Id] = new Unacked<TChannel>(m, channel, null);
        }

        AskForExpiry();
        return m;
    }

    /// <summary>Acks, nacks and rejects from a channel. Only the channel holding a delivery settles it.</summary>
    public void Settle(TChannel channel, long[] ids, Settlement outcome, long now)
    {
        foreach (var id in ids)
        {
            // A late settlement from a channel that already went must not touch the message once
            // another holds it.
            if (!_unacked.TryGetValue(id, out var u) || !u.Channel.Equals(channel))
            {
                continue;
            }

            _unacked.Remove(id);
            if (u.Consumer is { } c)
            {
                c.InFlight--;
            }

            switch (outcome)
            {
                case Settlement.Ack:
                    _effects.Removed(u.Message);
                    break;
                case Settlement.Requeue:
                    Return(u.Message);
                    break;
                default:
                    DeadLetter(u.Message, DeathReason.Rejected);
                    break;
            }
        }

        DeliverReady(now);
    }

    /// <summary>A channel closed or was lost: its consumers go and its unacked messages return. Returns the consumers removed.</summary>
    public int ChannelGone(TChannel channel, long now)
    {
        int removed = _consumers.RemoveAll(c => c.Channel.Equals(channel));
        List<QueuedMessage>? returned = null;
        foreach (var (_, u) in _unacked)
        {
            if (u.Channel.Equals(channel))
            {
                (returned ??= new List<QueuedMessage>()).Add(u.Message);
            }
        }

        if (returned is not null)
        {
            foreach (var m in returned)
            {
                _unacked.Remove(m.Id);
                Return(m);
            }
        }

        DeliverReady(now);
        return removed;
    }

    /// <summary>A delivered message comes back: redelivered, counted against x-delivery-limit.</summary>
    private void Return(QueuedMessage m)
    {
        m.Redelivered = true;
        m.ReturnCount++;
        if (Arguments.DeliveryLimit is { } limit && m.ReturnCount > limit)
        {
            DeadLetter(m, DeathReason.DeliveryLimit);
            return;
        }

        if (Arguments.CountsDeliveries || Arguments.DeliveryLimit is not null)
        {
            m.Message = m.Message.WithHeader("x-delivery-count", (long)m.ReturnCount);
        }

        _ready.InsertById(m);
    }

    /// <summary>
    /// The consumer the next delivery goes to: round-robin among those with credit in the highest
    /// x-priority group that has one; with single-active-consumer, only the first consumer.
    /// </summary>
    private Consumer<TChannel>? NextConsumer()
    {
        int n = _consumers.Count;
        if (Arguments.SingleActiveConsumer)
        {
            return _consumers[0].HasCredit ? _consumers[0] : null;
        }

        if (!_consumerPriorities)
        {
            return NextInGroup(0, n);
        }

        for (int start = 0; start < n;)
        {
            int end = start + 1;
            while (end < n && _consumers[end].Priority == _consumers[start].Priority)
            {
                end++;
            }

            if (NextInGroup(start, end) is { } c)
            {
                return c;
            }

            start = end;
        }

        return null;
    }

    private Consumer<TChannel>? NextInGroup(int start, int end)
    {
        int size = end - start;
        for (int tries = 0; tries < size; tries++)
        {
            var c = _consumers[start + (int)((uint)_roundRobin++ % (uint)size)];
            if (c.HasCredit)
            {
                return c;
            }
        }

        return null;
    }
}
