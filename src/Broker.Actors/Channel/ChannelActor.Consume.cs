using Akka.Actor;
using Broker.Actors.Queues;
using Broker.Protocol;
using Broker.Protocol.Methods;

namespace Broker.Actors.Channel;

/// <summary>Consumers, basic.get, delivery tags, acks/nacks/rejects, prefetch and recover.</summary>
public sealed partial class ChannelActor
{
    private readonly Dictionary<string, ConsumerRegistration> _consumers = new(StringComparer.Ordinal);
    private readonly Dictionary<ulong, UnackedDelivery> _unacked = new();
    private readonly HashSet<IActorRef> _touchedQueues = new();
    private readonly Queue<Deliver> _held = new();
    private readonly Dictionary<(IActorRef Queue, Settlement Outcome), List<long>> _pendingSettlements = new();
    private readonly BasicDeliver _deliverMethod = new();

    /// <summary>How often the delivery credit totals are repeated to the queues.</summary>
    private static readonly TimeSpan DeliveryCreditRefresh = TimeSpan.FromSeconds(5);

    /// <summary>Deliveries written since delivery credit was last given (the per-consumer counts are on the registrations).</summary>
    private int _deliveredSinceCredit;
    private ulong _deliveryTag;
    private ulong _lowestUnacked = 1;
    private ushort _consumerPrefetch;
    private ushort _channelPrefetch;
    private bool _flowActive = true;
    private bool _cleanedUp;

    private void OnQos(BasicQos qos)
    {
        if (qos.PrefetchSize != 0)
        {
            throw AmqpException.NotImplemented($"prefetch_size!=0 ({qos.PrefetchSize})");
        }

        // RabbitMQ's meaning: global=false limits each consumer on this channel, global=true all
        // consumers of the channel together. RabbitMQ applies global=false to consumers created
        // afterwards only; here it also changes the channel's existing consumers, because clients
        // that take the spec's meaning (kombu, hence Celery, with any broker not named RabbitMQ)
        // raise the prefetch after consuming and rely on it (Celery's ETA tasks would otherwise
        // block the worker until they are due).
        if (qos.Global)
        {
            _channelPrefetch = qos.PrefetchCount;
            SendHeldDeliveries();
        }
        else
        {
            _consumerPrefetch = qos.PrefetchCount;
            foreach (var consumer in _consumers.Values)
            {
                consumer.Queue.Tell(new ConsumerPrefetch(consumer.Tag, qos.PrefetchCount));
            }
        }

        Emit(new BasicQosOk());
    }

    private void OnConsume(BasicConsume consume)
    {
        string queueName = ResolveQueueName(consume.Queue);
        if (queueName == DirectReplyTo)
        {
            ConsumeDirectReplies(consume);
            return;
        }

        RequireAccess(Access.AccessKind.Read, isQueue: true, queueName);
        string tag = consume.ConsumerTag.Length > 0 ? consume.ConsumerTag : "amq.ctag-" + Names.Random();
        if (_consumers.ContainsKey(tag))
        {
            throw AmqpException.NotAllowed($"attempt to reuse consumer tag '{tag}'");
        }

        var queue = FindQueue(queueName);
        int window = _channelPrefetch > 0 && !consume.NoAck
            ? Math.Min((int)_channelPrefetch, FlowControl.DeliveryWindow)
            : FlowControl.DeliveryWindow;
        var request = new AddConsumer(tag, consume.NoAck, consume.Exclusive, _consumerPrefetch, _connection.ConnectionId, window,
            ConsumerPriority(consume, queueName));
        RequestQueue(queue.Ref, queueName, request, reply =>
        {
            if (reply is ConsumerAdded)
            {
                _consumers[tag] = new ConsumerRegistration(tag, queue.Ref);
                _stats.Consumers = _stats.Consumers.Add(new Stats.ConsumerInfo(tag, queueName, !consume.NoAck, consume.Exclusive,
                    _consumerPrefetch, consume.Arguments));
                _touchedQueues.Add(queue.Ref);
                if (!Timers.IsTimerActive("delivery-credit-refresh"))
                {
                    Timers.StartPeriodicTimer("delivery-credit-refresh", DeliveryCreditTick.Instance, DeliveryCreditRefresh);
                }
                Context.Watch(queue.Ref);
                if (!consume.Nowait)
                {
                    Emit(new BasicConsumeOk { ConsumerTag = tag });
                }
            }
        });
    }

    /// <summary>basic.consume's x-priority: an integer (RabbitMQ refuses anything else with 406).</summary>
    private int ConsumerPriority(BasicConsume consume, string queueName)
    {
        if (consume.Arguments is not { } args || !args.TryGetValue("x-priority", out var value))
        {
            return 0;
        }

        long? priority = FieldValues.AsLong(value);
        if (priority is null or < int.MinValue or > int.MaxValue)
        {
            throw AmqpException.PreconditionFailed(
                $"invalid arg 'x-priority' for queue '{queueName}' in vhost '{VHost}': {{unacceptable_type,{QueueArguments.ErlangType(value)}}}");
        }

        return (int)priority;
    }

    private void OnCancel(BasicCancel cancel)
    {
        if (CancelDirectReplies(cancel))
        {
            return;
        }

        if (!_consumers.TryGetValue(cancel.ConsumerTag, out var consumer))
        {
            // Cancelling an unknown tag is not an error.
            if (!cancel.Nowait)
            {
                Emit(new BasicCancelOk { ConsumerTag = cancel.ConsumerTag });
            }

            return;
        }

        RequestQueue(consumer.Queue, string.Empty, new RemoveConsumer(cancel.ConsumerTag), _ =>
        {
            _consumers.Remove(cancel.ConsumerTag);
            ForgetConsumerStats(cancel.ConsumerTag);
            if (!cancel.Nowait)
            {
                Emit(new BasicCancelOk { ConsumerTag = cancel.ConsumerTag });
            }
        }, doneIfGone: true);
    }

    /// <summary>A queue that stopped (failed, or its node went) cancels its consumers here, as a deleted one does.</summary>
    private void CancelConsumersOf(IActorRef queue)
    {
        foreach (var c in _consumers.Values.Where(c => c.Queue.Equals(queue)).ToList())
        {
            OnConsumerCancelled(new ConsumerCancelled(string.Empty, c.Tag));
        }
    }

    private void OnConsumerCancelled(ConsumerCancelled cancelled)
    {
        ForgetConsumerStats(cancelled.ConsumerTag);
        if (_consumers.Remove(cancelled.ConsumerTag) && _connection.ConsumerCancelNotify && !_closed)
        {
            Emit(new BasicCancel { ConsumerTag = cancelled.ConsumerTag, Nowait = true });
        }
    }

    private void OnGet(BasicGet get)
    {
        string name = ResolveQueueName(get.Queue);
        RequireAccess(Access.AccessKind.Read, isQueue: true, name);
        var queue = FindQueue(name);
        RequestQueue(queue.Ref, queue.Name, new GetMessage(get.NoAck, _connection.ConnectionId), reply =>
        {
            var result = (GetResult)reply;
            if (result.Message is not { } m)
            {
                _stats.Counters.Increment(Stats.MessageStat.GetEmpty);
                Emit(new BasicGetEmpty());
                return;
            }

            _stats.Counters.Increment(get.NoAck ? Stats.MessageStat.GetNoAck : Stats.MessageStat.Get);
            if (m.Redelivered)
            {
                _stats.Counters.Increment(Stats.MessageStat.Redeliver);
            }

            ulong tag = ++_deliveryTag;
            if (!get.NoAck)
            {
                _unacked[tag] = new UnackedDelivery(queue.Ref, m.Id, Environment.TickCount64);
                _touchedQueues.Add(queue.Ref);
            }

            EmitContent(new BasicGetOk
            {
                DeliveryTag = tag,
                Redelivered = m.Redelivered,
                Exchange = m.Message.Exchange,
                RoutingKey = m.Message.RoutingKey,
                MessageCount = result.Remaining,
            }, m.Message);
        });
    }

    private void OnDeliver(Deliver d)
    {
        if (_closed || !_consumers.TryGetValue(d.ConsumerTag, out var consumer))
        {
            ReturnDelivery(d);
            return;
        }

        if (!_flowActive || (!d.NoAck && _channelPrefetch > 0 && _unacked.Count >= _channelPrefetch) || _held.Count > 0)
        {
            _held.Enqueue(d);
            return;
        }

        SendDelivery(d, consumer);
    }

    /// <summary>A delivery this channel cannot take (consumer gone) goes back to its queue.</summary>
    private void ReturnDelivery(Deliver d)
    {
        if (!d.NoAck)
        {
            d.QueueRef.Tell(new Settle(new[] { d.Message.Id }, Settlement.Requeue), Self);
        }
    }

    private void SendDelivery(Deliver d, ConsumerRegistration consumer)
    {
        ulong tag = ++_deliveryTag;
        if (!d.NoAck)
        {
            _unacked[tag] = new UnackedDelivery(d.QueueRef, d.Message.Id, Environment.TickCount64);
        }

        consumer.Written++;
        _deliveredSinceCredit++;
        var m = d.Message;
        _stats.Counters.Increment(d.NoAck ? Stats.MessageStat.DeliverNoAck : Stats.MessageStat.Deliver);
        if (m.Redelivered)
        {
            _stats.Counters.Increment(Stats.MessageStat.Redeliver);
        }

        _deliverMethod.ConsumerTag = d.ConsumerTag;
        _deliverMethod.DeliveryTag = tag;
        _deliverMethod.Redelivered = m.Redelivered;
        _deliverMethod.Exchange = m.Message.Exchange;
        _deliverMethod.RoutingKey = m.Message.RoutingKey;
        EmitContent(_deliverMethod, m.Message);
    }

    /// <summary>Sends deliveries held back by channel.flow or the channel-wide prefetch, as far as allowed.</summary>
    private void SendHeldDeliveries()
    {
        while (_held.Count > 0 && _flowActive)
        {
            var d = _held.Peek();
            if (!d.NoAck && _channelPrefetch > 0 && _unacked.Count >= _channelPrefetch)
            {
                return;
            }

            _held.Dequeue();
            if (_consumers.TryGetValue(d.ConsumerTag, out var consumer))
            {
                SendDelivery(d, consumer);
            }
            else
            {
                ReturnDelivery(d);
            }
        }
    }

    private void OnAck(ulong deliveryTag, bool multiple)
    {
        var tags = CollectTags(deliveryTag, multiple);
        if (_tx)
        {
            _txSettlements.Add((tags, Settlement.Ack));
            _txSettledTags.UnionWith(tags);
            return;
        }

        Settle(tags, Settlement.Ack);
    }

    private void OnNack(ulong deliveryTag, bool multiple, bool requeue)
    {
        var tags = CollectTags(deliveryTag, multiple);
        var outcome = requeue ? Settlement.Requeue : Settlement.Discard;
        if (_tx)
        {
            _txSettlements.Add((tags, outcome));
            _txSettledTags.UnionWith(tags);
            return;
        }

        Settle(tags, outcome);
    }

    private void OnRecover(bool requeue, bool reply)
    {
        // requeue=false asks for redelivery to the same consumer, which RabbitMQ does not implement:
        // it closes the connection with 540 NOT_IMPLEMENTED - requeue=false (checked against 3.10.8).
        if (!requeue)
        {
            throw AmqpException.NotImplemented("requeue=false");
        }

        var tags = _unacked.Keys.ToList();
        Settle(tags, Settlement.Requeue);
        if (reply)
        {
            Emit(new BasicRecoverOk());
        }
    }

    /// <summary>The delivery tags an ack/nack/reject covers; an unknown tag is 406 PRECONDITION_FAILED.</summary>
    private List<ulong> CollectTags(ulong deliveryTag, bool multiple)
    {
        var tags = new List<ulong>();
        if (multiple)
        {
            if (deliveryTag > _deliveryTag)
            {
                throw AmqpException.PreconditionFailed($"unknown delivery tag {deliveryTag}");
            }

            ulong upTo = deliveryTag == 0 ? _deliveryTag : deliveryTag;
            for (ulong t = _lowestUnacked; t <= upTo; t++)
            {
                if (_unacked.ContainsKey(t) && !IsSettledInTx(t))
                {
                    tags.Add(t);
                }
            }

            if (tags.Count == 0 && deliveryTag != 0)
            {
                throw AmqpException.PreconditionFailed($"unknown delivery tag {deliveryTag}");
            }

            return tags;
        }

        if (!_unacked.ContainsKey(deliveryTag) || IsSettledInTx(deliveryTag))
        {
            throw AmqpException.PreconditionFailed($"unknown delivery tag {deliveryTag}");
        }

        tags.Add(deliveryTag);
        return tags;
    }

    /// <summary>Settles deliveries now: batched per queue and sent when the mailbox is worked through.</summary>
    private void Settle(List<ulong> tags, Settlement outcome)
    {
        foreach (var tag in tags)
        {
            if (!_unacked.Remove(tag, out var u))
            {
                continue;
            }

            if (outcome == Settlement.Ack)
            {
                _stats.Counters.Increment(Stats.MessageStat.Ack);
            }

            if (!_pendingSettlements.TryGetValue((u.Queue, outcome), out var ids))
            {
                ids = new List<long>();
                _pendingSettlements[(u.Queue, outcome)] = ids;
            }

            ids.Add(u.MessageId);
        }

        while (_lowestUnacked <= _deliveryTag && !_unacked.ContainsKey(_lowestUnacked))
        {
            _lowestUnacked++;
        }

        ScheduleFlush();
        SendHeldDeliveries();
    }

    /// <summary>
    /// Gives queues delivery credit for what was written, unless the socket is backed up: then the
    /// credit waits (re-checked shortly) and the queues stop pushing to this channel's consumers.
    /// </summary>
    private void GrantDeliveryCredit()
    {
        if (_deliveredSinceCredit == 0)
        {
            return;
        }

        if (_outbound.PendingBytes > FlowControl.OutboundHighWatermark)
        {
            Timers.StartSingleTimer("delivery-credit", Flush.Instance, TimeSpan.FromMilliseconds(5));
            return;
        }

        ReportWritten(repeat: false);
        _deliveredSinceCredit = 0;
    }

    /// <summary>
    /// Every few seconds the totals go again, unless the socket is backed up: a DeliveryCredit lost
    /// between nodes would otherwise leave the queue thinking its consumer's window is full.
    /// </summary>
    private void OnDeliveryCreditTick()
    {
        if (_consumers.Count == 0)
        {
            Timers.Cancel("delivery-credit-refresh");
            return;
        }

        if (_outbound.PendingBytes > FlowControl.OutboundHighWatermark)
        {
            return;
        }

        ReportWritten(repeat: true);
    }

    /// <summary>Tells each consumer's queue how many deliveries were written in all (only changed totals unless <paramref name="repeat"/>).</summary>
    private void ReportWritten(bool repeat)
    {
        foreach (var consumer in _consumers.Values)
        {
            if (consumer.Written > consumer.Reported || (repeat && consumer.Written > 0))
            {
                consumer.Queue.Tell(new DeliveryCredit(consumer.Tag, consumer.Written), Self);
                consumer.Reported = consumer.Written;
            }
        }
    }

    private void FlushSettlements()
    {
        if (_pendingSettlements.Count == 0)
        {
            return;
        }

        foreach (var ((queue, outcome), ids) in _pendingSettlements)
        {
            queue.Tell(new Settle(ids.ToArray(), outcome), Self);
        }

        _pendingSettlements.Clear();
    }

    /// <summary>
    /// RabbitMQ's consumer_timeout: the oldest delivery still awaiting its ack (the lowest such
    /// tag) went out longer ago than the timeout: the channel closes with 406, which requeues it.
    /// </summary>
    private void OnConsumerTimeoutCheck()
    {
        if (_broker.Settings.ConsumerTimeout is not { } timeout || _unacked.Count == 0 || _closed)
        {
            return;
        }

        for (ulong t = _lowestUnacked; t <= _deliveryTag; t++)
        {
            if (!_unacked.TryGetValue(t, out var oldest) || IsSettledInTx(t))
            {
                continue;
            }

            if (Environment.TickCount64 - oldest.SentAt > (long)timeout.TotalMilliseconds)
            {
                Fail(AmqpException.PreconditionFailed(
                    $"delivery acknowledgement on channel {_number} timed out. Timeout value used: {(long)timeout.TotalMilliseconds} ms. " +
                    "This timeout value can be configured, see consumers doc guide to learn more"));
            }

            return;
        }
    }

    private void ForgetConsumerStats(string tag) => _stats.Consumers = _stats.Consumers.RemoveAll(c => c.Tag == tag);

    /// <summary>A consumer of this channel: its queue, the deliveries written to the socket and how many of those the queue was told of.</summary>
    private sealed class ConsumerRegistration(string tag, IActorRef queue)
    {
        public string Tag { get; } = tag;
        public IActorRef Queue { get; } = queue;
        public long Written { get; set; }
        public long Reported { get; set; }
    }

    /// <summary>A delivery awaiting its ack: where it came from, and when it went out (Environment.TickCount64), for the consumer timeout.</summary>
    private readonly record struct UnackedDelivery(IActorRef Queue, long MessageId, long SentAt);
}
