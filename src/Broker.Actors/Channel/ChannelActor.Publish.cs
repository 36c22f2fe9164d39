using Akka.Actor;
using Akka.Event;
using Broker.Actors.Queues;
using Broker.Protocol;
using Broker.Protocol.Methods;

namespace Broker.Actors.Channel;

/// <summary>
/// basic.publish: route against the local snapshot, hand the message to each queue's actor,
/// return unroutable mandatory messages, and (confirm mode) ack once every target queue has it.
/// </summary>
public sealed partial class ChannelActor
{
    private readonly List<string> _routeBuffer = new();
    private readonly Routing.RouteScratch _routeScratch = new();

    /// <summary>The exchange, routing key and raw properties of the previous publish, whose instances the next equal ones reuse (see Shared).</summary>
    private string _lastExchange = string.Empty;
    private string _lastRoutingKey = string.Empty;
    private byte[] _lastRawProperties = Array.Empty<byte>();

    /// <summary>
    /// Per queue, the confirm ids sent to it and not yet answered. Not a FIFO: a durable queue
    /// confirms a transient message at once and a persistent one after its journal write.
    /// </summary>
    private readonly Dictionary<IActorRef, HashSet<long>> _awaitingQueues = new();

    /// <summary>Confirm id -> number of queues that still have to answer.</summary>
    private readonly Dictionary<long, int> _unconfirmed = new();

    /// <summary>Confirm ids in publish order (with when they were sent), to find the lowest unconfirmed one.</summary>
    private readonly Queue<(long Id, long SentAt)> _confirmOrder = new();

    private readonly HashSet<long> _nacked = new();

    /// <summary>Publish credit per queue (see FlowControl); a queue with none left blocks the channel.</summary>
    private readonly Dictionary<IActorRef, PublishWindow> _publishCredit = new();
    private readonly HashSet<IActorRef> _creditExhausted = new();
    private bool _confirmMode;
    private bool _confirmCheckScheduled;

    /// <summary>How long a publish may wait for its queues' answer before it is nacked.</summary>
    private static readonly TimeSpan ConfirmTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan ConfirmCheckInterval = TimeSpan.FromSeconds(5);

    /// <summary>How often a channel blocked on a queue asks it for its grant.</summary>
    private static readonly TimeSpan CreditProbeInterval = TimeSpan.FromSeconds(2);
    private long _publishSeq;
    private long _lastAcked;
    private bool _confirmsDirty;

    /// <summary>The exchange last published to, and this channel's [in, out] counts for it (publishes come in runs to one exchange).</summary>
    private string? _countedExchange;
    private long[]? _exchangeCounts;

    private void OnPublish(BasicPublish publish, Command command)
    {
        if (publish.Immediate)
        {
            throw AmqpException.NotImplemented("immediate=true");
        }

        var header = command.Header!;
        // RabbitMQ's order: write permission, the exchange, internal, topic permission, user_id, expiration.
        RequireAccess(Access.AccessKind.Write, isQueue: false, publish.Exchange);
        Routing.ExchangeRoute? exchange = null;
        if (publish.Exchange.Length > 0)
        {
            exchange = _broker.Routes.Find(VHost, publish.Exchange)
                       ?? throw AmqpException.NotFound($"no exchange '{publish.Exchange}' in vhost '{VHost}'");
            if (exchange.Definition.Internal)
            {
                throw AmqpException.AccessRefused($"cannot publish to internal exchange '{publish.Exchange}' in vhost '{VHost}'");
            }

            RequireTopicAccess(Access.AccessKind.Write, exchange.Definition, publish.RoutingKey);
        }

        if (header.Properties.UserId is { } userId && userId != _connection.User)
        {
            throw AmqpException.PreconditionFailed($"user_id property set to '{userId}' but authenticated user was '{_connection.User}'");
        }

        if (header.Properties.Expiration is { } expiration && MessageExpiration.Validate(expiration, out _) is { } invalid)
        {
            throw AmqpException.PreconditionFailed($"invalid expiration '{expiration}': {invalid}");
        }

        var message = new Message(Shared(ref _lastExchange, publish.Exchange), Shared(ref _lastRoutingKey, publish.RoutingKey),
            header.Properties, SharedProperties(header.RawProperties), command.Body);
        if (header.Properties.ReplyTo == DirectReplyTo)
        {
            message = WithReplyAddress(message);
        }

        _routeBuffer.Clear();
        bool mandatory = publish.Mandatory;
        if (publish.Exchange.Length == 0 && publish.RoutingKey.StartsWith("amq.", StringComparison.Ordinal) && !_tx &&
            PublishToReservedAddress(publish, message))
        {
            return;
        }

        if (exchange is null)
        {
            if (!DelayedMessages.IsHidden(publish.RoutingKey))
            {
                _routeBuffer.Add(publish.RoutingKey);
            }
        }
        else
        {
            if (exchange.Definition.Type == Routing.ExchangeType.DelayedMessage && DelayedMessages.DelayOf(header.Properties) > 0)
            {
                // Held until due by the exchange's hidden queue, which then routes it: routed as far as the publisher is concerned.
                _routeBuffer.Add(DelayedMessages.QueueName(publish.Exchange));
                mandatory = false;
            }
            else
            {
                _broker.Routes.Route(VHost, exchange, publish.RoutingKey, header.Properties.Headers, _routeBuffer, _routeScratch);
            }
        }

        long seq = _confirmMode ? ++_publishSeq : 0;
        if (_tx)
        {
            _txPublishes.Add(new PendingPublish(message, _routeBuffer.ToArray(), mandatory));
            return;
        }

        Deliver(message, _routeBuffer, mandatory, seq);
    }

    /// <summary>
    /// The default exchange's reserved routing keys: the admin endpoint and direct reply-to
    /// addresses, handled without a queue. False for any other key (an amq.gen-* queue, say).
    /// </summary>
    private bool PublishToReservedAddress(BasicPublish publish, Message message)
    {
        if (publish.RoutingKey == AdminRoutingKey)
        {
            OnAdminCommand(message);
            Deliver(message, Array.Empty<string>(), false, _confirmMode ? ++_publishSeq : 0, handedOver: true);
            return true;
        }

        if (publish.RoutingKey.StartsWith(DirectReplyPrefix, StringComparison.Ordinal))
        {
            // A reply to a direct reply-to address: straight to the channel it names.
            bool delivered = SendDirectReply(message);
            Deliver(message, Array.Empty<string>(), publish.Mandatory && !delivered, _confirmMode ? ++_publishSeq : 0, handedOver: delivered);
            return true;
        }

        return false;
    }

    /// <summary>
    /// Sends a routed message to its queues; confirmId 0 asks for no answer. handedOver: it went
    /// elsewhere than a queue (the admin endpoint, a direct reply), so it counts as routed.
    /// </summary>
    private int Deliver(Message message, IReadOnlyList<string> queueNames, bool mandatory, long confirmId, bool handedOver = false)
    {
        _stats.Counters.Increment(Stats.MessageStat.Publish);
        if (confirmId > 0)
        {
            _stats.Counters.Increment(Stats.MessageStat.ReceivedConfirm);
        }

        int sent = 0;
        int unavailable = 0;
        for (int i = 0; i < queueNames.Count; i++)
        {
            if (_broker.Queues.Find(VHost, queueNames[i]) is not { } queue)
            {
                continue;
            }

            if (!queue.Available)
            {
                // Routed to a queue whose node went: it cannot take the message, so a confirm
                // becomes a nack and a transaction fails.
                if (confirmId > 0)
                {
                    unavailable++;
                    sent++;
                }
                else if (confirmId < 0)
                {
                    _txFailure ??= $"queue '{queue.Name}' in vhost '{VHost}' is not available (its node is down or it is moving)";
                }

                continue;
            }

            if (confirmId != 0)
            {
                if (!_awaitingQueues.TryGetValue(queue.Ref, out var ids))
                {
                    ids = new HashSet<long>();
                    _awaitingQueues[queue.Ref] = ids;
                }

                ids.Add(confirmId);
            }

            queue.Ref.Tell(new Publish(message, confirmId), Self);
            TakePublishCredit(queue.Ref);
            sent++;
        }

        CountPublish(message.Exchange, sent > 0 || handedOver, mandatory);
        if (sent == 0 && mandatory)
        {
            EmitContent(new BasicReturn
            {
                ReplyCode = ReplyCode.NoRoute,
                ReplyText = "NO_ROUTE",
                Exchange = message.Exchange,
                RoutingKey = message.RoutingKey,
            }, message);
        }

        if (confirmId > 0)
        {
            _confirmOrder.Enqueue((confirmId, Environment.TickCount64));
            if (!_confirmCheckScheduled)
            {
                _confirmCheckScheduled = true;
                Timers.StartSingleTimer("confirm-check", ConfirmCheck.Instance, ConfirmCheckInterval);
            }
            if (sent == 0)
            {
                _confirmsDirty = true;
                ScheduleFlush();
            }
            else
            {
                _unconfirmed[confirmId] = sent;
            }
        }

        for (int i = 0; i < unavailable; i++)
        {
            Resolve(confirmId, failed: true);
        }

        return sent;
    }

    private void TakePublishCredit(IActorRef queue)
    {
        if (!_publishCredit.TryGetValue(queue, out var window))
        {
            window = new PublishWindow();
            _publishCredit[queue] = window;
            Context.Watch(queue);

            // So the queue hears ChannelGone and forgets this channel's flow state.
            _touchedQueues.Add(queue);
        }

        window.Sent++;
        if (window.Left <= 0 && _creditExhausted.Add(queue) && _creditExhausted.Count == 1)
        {
            _connection.Connection.Tell(new Connection.ChannelPublishFlow(Blocked: true));
            Timers.StartPeriodicTimer("credit-probe", CreditProbeTick.Instance, CreditProbeInterval);
        }
    }

    /// <summary>
    /// While blocked, asks the queues it waits for what they granted: a grant lost between nodes
    /// would otherwise leave the channel (and its connection's socket) blocked for good.
    /// </summary>
    private void OnCreditProbeTick()
    {
        if (_creditExhausted.Count == 0)
        {
            Timers.Cancel("credit-probe");
            return;
        }

        foreach (var queue in _creditExhausted)
        {
            queue.Tell(PublishCreditProbe.Instance, Self);
        }
    }

    /// <summary>
    /// A publish still unconfirmed after <see cref="ConfirmTimeout"/> gets basic.nack: its queue's
    /// answer was lost (Akka.Remote is at-most-once), and a publisher must never wait for ever.
    /// A queue that stops is noticed sooner (Terminated); this is the backstop.
    /// </summary>
    private void OnConfirmCheck()
    {
        _confirmCheckScheduled = false;
        long cutoff = Environment.TickCount64 - (long)ConfirmTimeout.TotalMilliseconds;
        int expired = 0;
        foreach (var (id, sentAt) in _confirmOrder)
        {
            if (sentAt > cutoff)
            {
                break;
            }

            if (_unconfirmed.Remove(id))
            {
                _nacked.Add(id);
                expired++;
            }
        }

        if (expired > 0)
        {
            _log.Warning("channel {0} of connection {1}: no answer from a queue for {2} publish(es) within {3} s; they get basic.nack",
                _number, _connection.ConnectionId, expired, ConfirmTimeout.TotalSeconds);
            _confirmsDirty = true;
            ScheduleFlush();
        }

        if (_unconfirmed.Count > 0)
        {
            _confirmCheckScheduled = true;
            Timers.StartSingleTimer("confirm-check", ConfirmCheck.Instance, ConfirmCheckInterval);
        }
    }

    private void OnPublishCredit(PublishCredit credit)
    {
        if (!_publishCredit.TryGetValue(credit.Queue, out var window))
        {
            return;
        }

        // Cumulative: a late or repeated grant never takes credit back, a lost one is made good.
        window.Granted = Math.Max(window.Granted, credit.Granted);

        // Blocked, nothing sent since, and the queue reports the same received total twice (two
        // probes 2 s apart): what it never received was lost between nodes and is no longer in
        // flight. It stops counting against the window (their confirms are nacked by the timeout).
        if (_creditExhausted.Contains(credit.Queue) && credit.Received < window.Sent)
        {
            if (credit.Received == window.LastReceived && window.Sent == window.SentAtLastAnswer)
            {
                _log.Warning("channel {0} of connection {1}: {2} publish(es) to a queue were lost between nodes; they no longer hold its window",
                    _number, _connection.ConnectionId, window.Sent - credit.Received);
                window.Sent = credit.Received;
            }

            window.LastReceived = credit.Received;
            window.SentAtLastAnswer = window.Sent;
        }

        if (window.Left > 0)
        {
            ReleaseCreditBlock(credit.Queue);
        }
    }

    private void ReleaseCreditBlock(IActorRef queue)
    {
        if (_creditExhausted.Remove(queue) && _creditExhausted.Count == 0)
        {
            _connection.Connection.Tell(new Connection.ChannelPublishFlow(Blocked: false));
        }
    }

    private void OnEnqueued(Enqueued e) => OnQueueAnswer(e.Queue, e.ConfirmId, failed: false);

    private void OnEnqueueFailed(EnqueueFailed e)
    {
        _log.Warning("channel {0} of connection {1}: queue could not take message {2}: {3}", _number,
            _connection.ConnectionId, e.ConfirmId, e.Reason);
        OnQueueAnswer(e.Queue, e.ConfirmId, failed: true);
    }

    private void OnQueueAnswer(IActorRef queue, long confirmId, bool failed)
    {
        if (_awaitingQueues.TryGetValue(queue, out var ids) && ids.Remove(confirmId))
        {
            Resolve(confirmId, failed);
        }
    }

    /// <summary>
    /// A queue that stopped (deleted, failed, or its node went) answers for nothing any more: what
    /// it had not confirmed may be lost, so the publisher gets basic.nack for it.
    /// </summary>
    private void OnQueueTerminated(IActorRef queue)
    {
        if (_waiting && queue.Equals(_requestTarget))
        {
            OnRequestTargetGone();
        }

        _touchedQueues.Remove(queue);
        _publishCredit.Remove(queue);
        ReleaseCreditBlock(queue);
        CancelConsumersOf(queue);
        if (_awaitingQueues.Remove(queue, out var ids))
        {
            foreach (var id in ids)
            {
                Resolve(id, failed: true);
            }
        }
    }

    private void Resolve(long confirmId, bool failed)
    {
        if (confirmId < 0)
        {
            OnTxPublishResolved(failed);
            return;
        }

        if (!_unconfirmed.TryGetValue(confirmId, out int remaining))
        {
            return;
        }

        if (failed)
        {
            _nacked.Add(confirmId);
        }

        if (remaining > 1)
        {
            _unconfirmed[confirmId] = remaining - 1;
            return;
        }

        _unconfirmed.Remove(confirmId);
        _confirmsDirty = true;
        ScheduleFlush();
    }

    /// <summary>
    /// Sends basic.ack with multiple=true up to the lowest unconfirmed id, so that one frame confirms
    /// a whole run; a nacked id in the run is sent as its own basic.nack.
    /// </summary>
    /// <summary>The message counters of a publish: the channel's unroutable ones and its exchange's in and out.</summary>
    private void CountPublish(string exchange, bool routed, bool mandatory)
    {
        if (!routed)
        {
            _stats.Counters.Increment(mandatory ? Stats.MessageStat.ReturnUnroutable : Stats.MessageStat.DropUnroutable);
        }

        if (!ReferenceEquals(exchange, _countedExchange) && exchange != _countedExchange)
        {
            _countedExchange = exchange;
            _exchangeCounts = _stats.ExchangePublishes.GetOrAdd(exchange, _ => new long[2]);
        }

        _exchangeCounts![0]++;
        if (routed)
        {
            _exchangeCounts[1]++;
        }
    }

    private void FlushConfirms()
    {
        if (!_confirmsDirty)
        {
            return;
        }

        _confirmsDirty = false;
        long ackUpTo = _lastAcked;
        while (_confirmOrder.Count > 0 && !_unconfirmed.ContainsKey(_confirmOrder.Peek().Id))
        {
            long id = _confirmOrder.Dequeue().Id;
            _stats.Counters.Increment(Stats.MessageStat.Confirm);
            if (_nacked.Remove(id))
            {
                EmitAckUpTo(ackUpTo);
                FrameWriter.WriteMethod(_out, _number, new BasicNack { DeliveryTag = (ulong)id, Multiple = false, Requeue = false });
                _lastAcked = id;
                ackUpTo = id;
                continue;
            }

            ackUpTo = id;
        }

        EmitAckUpTo(ackUpTo);
    }

    private void EmitAckUpTo(long upTo)
    {
        if (upTo <= _lastAcked)
        {
            return;
        }

        FrameWriter.WriteMethod(_out, _number, new BasicAck { DeliveryTag = (ulong)upTo, Multiple = upTo - _lastAcked > 1 });
        _lastAcked = upTo;
    }

    private void OnConfirmSelect(ConfirmSelect select)
    {
        if (_tx)
        {
            throw AmqpException.PreconditionFailed("cannot switch from tx to confirm mode");
        }

        _confirmMode = true;
        _stats.Confirm = true;
        if (!select.Nowait)
        {
            Emit(new ConfirmSelectOk());
        }
    }

    /// <summary>Publishes sent to one queue and the credit it granted, both cumulative.</summary>
    private sealed class PublishWindow
    {
        public long Sent;
        public long Granted;

        /// <summary>The queue's received total in its last answer while blocked, and Sent then (to tell lost from in flight).</summary>
        public long LastReceived = -1;
        public long SentAtLastAnswer = -1;

        public long Left => FlowControl.InitialPublishCredit + Granted - Sent;
    }

    /// <summary>
    /// The string a queued message keeps for its exchange or routing key: the previous publish's
    /// instance when equal (a channel mostly publishes to the same few), so a deep queue holds one
    /// copy rather than one per message.
    /// </summary>
    /// <summary>The same for the properties' wire form: a publisher that sets the same properties every time shares one array.</summary>
    private byte[] SharedProperties(byte[] raw)
    {
        if (raw.AsSpan().SequenceEqual(_lastRawProperties))
        {
            return _lastRawProperties;
        }

        _lastRawProperties = raw;
        return raw;
    }

    private static string Shared(ref string last, string value)
    {
        if (string.Equals(last, value, StringComparison.Ordinal))
        {
            return last;
        }

        last = value;
        return value;
    }
}
