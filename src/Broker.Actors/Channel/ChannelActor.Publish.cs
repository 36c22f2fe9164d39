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

    /// <summary>
    /// Per queue, the confirm ids sent to it and not yet answered. Not a FIFO: a durable queue
    /// confirms a transient message at once and a persistent one after its journal write.
    /// </summary>
    private readonly Dictionary<IActorRef, HashSet<long>> _awaitingQueues = new();

    /// <summary>Confirm id -> number of queues that still have to answer.</summary>
    private readonly Dictionary<long, int> _unconfirmed = new();

    /// <summary>Confirm ids in publish order, to find the lowest unconfirmed one.</summary>
    private readonly Queue<long> _confirmOrder = new();

    private readonly HashSet<long> _nacked = new();

    /// <summary>Publish credit left per queue (see FlowControl); a queue at zero blocks the channel.</summary>
    private readonly Dictionary<IActorRef, int> _publishCredit = new();
    private readonly HashSet<IActorRef> _creditExhausted = new();
    private bool _confirmMode;
    private long _publishSeq;
    private long _lastAcked;
    private bool _confirmsDirty;

    private void OnPublish(BasicPublish publish, Command command)
    {
        if (publish.Immediate)
        {
            throw AmqpException.NotImplemented("immediate=true");
        }

        var header = command.Header!;
        var message = new Message(publish.Exchange, publish.RoutingKey, header, command.Body);
        _routeBuffer.Clear();
        if (publish.Exchange.Length == 0)
        {
            _routeBuffer.Add(publish.RoutingKey);
        }
        else
        {
            var exchange = _broker.Routes.Find(VHost, publish.Exchange)
                           ?? throw AmqpException.NotFound($"no exchange '{publish.Exchange}' in vhost '{VHost}'");
            if (exchange.Definition.Internal)
            {
                throw AmqpException.AccessRefused($"cannot publish to internal exchange '{publish.Exchange}' in vhost '{VHost}'");
            }

            _broker.Routes.Route(VHost, exchange, publish.RoutingKey, header.Properties.Headers, _routeBuffer, _routeScratch);
        }

        long seq = _confirmMode ? ++_publishSeq : 0;
        if (_tx)
        {
            _txPublishes.Add(new PendingPublish(message, _routeBuffer.ToArray(), publish.Mandatory));
            return;
        }

        Deliver(message, _routeBuffer, publish.Mandatory, seq);
    }

    /// <summary>Sends a routed message to its queues; confirmId 0 asks for no answer.</summary>
    private int Deliver(Message message, IReadOnlyList<string> queueNames, bool mandatory, long confirmId)
    {
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
                // Routed to a queue whose node went: it cannot take the message, so a confirm becomes a nack.
                if (confirmId > 0)
                {
                    unavailable++;
                    sent++;
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
            _confirmOrder.Enqueue(confirmId);
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
        if (!_publishCredit.TryGetValue(queue, out int credit))
        {
            credit = FlowControl.InitialPublishCredit;
            Context.Watch(queue);

            // So the queue hears ChannelGone and forgets this channel's flow state.
            _touchedQueues.Add(queue);
        }

        _publishCredit[queue] = --credit;
        if (credit <= 0 && _creditExhausted.Add(queue) && _creditExhausted.Count == 1)
        {
            _connection.Connection.Tell(new Connection.ChannelPublishFlow(Blocked: true));
        }
    }

    private void OnPublishCredit(PublishCredit credit)
    {
        if (_publishCredit.TryGetValue(credit.Queue, out int left))
        {
            _publishCredit[credit.Queue] = left + credit.Count;
            if (left + credit.Count > 0)
            {
                ReleaseCreditBlock(credit.Queue);
            }
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
            OnTxPublishResolved();
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
    private void FlushConfirms()
    {
        if (!_confirmsDirty)
        {
            return;
        }

        _confirmsDirty = false;
        long ackUpTo = _lastAcked;
        while (_confirmOrder.Count > 0 && !_unconfirmed.ContainsKey(_confirmOrder.Peek()))
        {
            long id = _confirmOrder.Dequeue();
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
        if (!select.Nowait)
        {
            Emit(new ConfirmSelectOk());
        }
    }
}
