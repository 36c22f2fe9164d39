using Akka.Actor;
using Akka.Event;
using Broker.Actors.Connection;
using Broker.Actors.Queues;
using Broker.Actors.Transport;
using Broker.Protocol;
using Broker.Protocol.Methods;

namespace Broker.Actors.Channel;

/// <summary>
/// One AMQP channel. The methods of a channel are handled one after another: while a queue or
/// exchange is asked something (declare, bind, consume, get...), further client commands are
/// stashed, while deliveries and confirms keep flowing. Split by concern into partial files:
/// publishing and confirms (ChannelActor.Publish.cs), consuming and acks (ChannelActor.Consume.cs),
/// declarations (ChannelActor.Topology.cs), transactions (ChannelActor.Tx.cs).
/// A soft error closes this channel with its reply code; a hard one goes to the connection.
/// </summary>
public sealed partial class ChannelActor : ReceiveActor, IWithUnboundedStash, IWithTimers
{
    private readonly BrokerContext _broker;
    private readonly ConnectionInfo _connection;
    private readonly ushort _number;
    private readonly OutboundFrames _outbound;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly AmqpWriter _out = new(16 * 1024);
    private Action<object>? _onReply;

    /// <summary>Commands of a batch not handled yet: the channel began waiting for a queue or exchange halfway through it.</summary>
    private readonly Queue<Command> _pendingCommands = new();

    /// <summary>The queue actor a pending request went to (watched: if it stops, the request fails instead of timing out).</summary>
    private IActorRef? _requestTarget;
    private string? _requestQueueName;
    private bool _requestDoneIfGone;
    private bool _waiting;
    private bool _flushScheduled;
    private bool _closed;
    private string? _lastQueue;
    private readonly Stats.ChannelStats _stats;

    public ChannelActor(BrokerContext broker, ConnectionInfo connection, ushort number, OutboundFrames outbound)
    {
        _broker = broker;
        _connection = connection;
        _number = number;
        _outbound = outbound;
        _stats = new Stats.ChannelStats(
            connection.Stats ?? new Stats.ConnectionStats(connection.ConnectionId, string.Empty, 0, string.Empty, 0, false),
            number, connection.VHost, connection.User);
        Active();
    }

    public IStash Stash { get; set; } = null!;

    public ITimerScheduler Timers { get; set; } = null!;

    private string VHost => _connection.VHost;

    private void Active()
    {
        Receive<ChannelCommands>(OnCommands);
        Receive<ConnectionClosing>(_ => StopAnswered());
        ReceiveAsyncMessages();
    }

    /// <summary>Waiting for a queue or exchange: client commands wait, everything else goes on.</summary>
    private void Waiting()
    {
        Receive<ChannelCommands>(_ => Stash.Stash());
        // After the commands held before it: they are answered first, as RabbitMQ does.
        Receive<ConnectionClosing>(_ => Stash.Stash());
        ReceiveAsyncMessages();
        Receive<ReplyTimeout>(_ => Fail(AmqpException.InternalError("timed out waiting for a queue or exchange to answer")));
        ReceiveAny(OnReply);
    }

    /// <summary>After a channel error: only channel.close-ok (or a crossing channel.close) matters.</summary>
    private void Closing()
    {
        Receive<ChannelCommands>(batch =>
        {
            foreach (var c in batch.Commands)
            {
                OnCommandWhileClosing(c);
            }
        });
        Receive<ConnectionClosing>(_ => Context.Stop(Self));
        // Cleanup already sent ChannelGone, which returned these deliveries to their queues.
        ReceiveAny(_ => { });
    }

    private void ReceiveAsyncMessages()
    {
        Receive<Deliver>(OnDeliver);
        Receive<DirectReply>(OnDirectReply);
        Receive<Enqueued>(OnEnqueued);
        Receive<EnqueueFailed>(OnEnqueueFailed);
        Receive<PublishCredit>(OnPublishCredit);
        Receive<ConsumerCancelled>(OnConsumerCancelled);
        Receive<Terminated>(t => OnQueueTerminated(t.ActorRef));
        Receive<Flush>(_ => FlushNow());
        Receive<ConfirmCheck>(_ => OnConfirmCheck());
        Receive<CreditProbeTick>(_ => OnCreditProbeTick());
        Receive<ConsumerTimeoutCheck>(_ => OnConsumerTimeoutCheck());
        Receive<DeliveryCreditTick>(_ => OnDeliveryCreditTick());
        Receive<ChannelProtocolError>(e => Fail(e.Error));
    }

    private void OnCommands(ChannelCommands batch)
    {
        foreach (var c in batch.Commands)
        {
            _pendingCommands.Enqueue(c);
        }

        DrainCommands();
    }

    /// <summary>Handles queued commands in order until one has to wait for an answer (the rest wait with it).</summary>
    private void DrainCommands()
    {
        while (_pendingCommands.Count > 0 && !_waiting && !_closed)
        {
            OnCommand(_pendingCommands.Dequeue());
        }
    }

    private void OnCommandWhileClosing(Command c)
    {
        if (c.Method is ChannelCloseOk or ChannelClose)
        {
            if (c.Method is ChannelClose)
            {
                EmitLast(new ChannelCloseOk());
            }

            _connection.Connection.Tell(new ChannelFinished(_number));
            Context.Stop(Self);
        }
    }

    private void OnCommand(Command command)
    {
        _currentCommand = command;
        try
        {
            Dispatch(command);
        }
        catch (QueueFailingOverException e)
        {
            if (!ParkUntilAvailable(command, e.Queue))
            {
                // Its node went and it has not recovered on another one in time (RabbitMQ's wording).
                Fail(AmqpException.NotFound($"home node of durable queue '{e.Queue}' in vhost '{VHost}' is down or inaccessible")
                    .For(command.Method));
            }
        }
        catch (AmqpException e)
        {
            Fail(e.For(command.Method));
        }
    }

    private void Dispatch(Command command)
    {
        switch (command.Method)
        {
            case BasicPublish p: OnPublish(p, command); break;
            case BasicAck a: OnAck(a.DeliveryTag, a.Multiple); break;
            case BasicNack n: OnNack(n.DeliveryTag, n.Multiple, n.Requeue); break;
            case BasicReject r: OnNack(r.DeliveryTag, false, r.Requeue); break;
            case BasicConsume c: OnConsume(c); break;
            case BasicCancel c: OnCancel(c); break;
            case BasicGet g: OnGet(g); break;
            case BasicQos q: OnQos(q); break;
            case BasicRecover r: OnRecover(r.Requeue, reply: true); break;
            case BasicRecoverAsync r: OnRecover(r.Requeue, reply: false); break;
            case ExchangeDeclare d: OnExchangeDeclare(d); break;
            case ExchangeDelete d: OnExchangeDelete(d); break;
            case ExchangeBind b: OnExchangeBind(b.Source, b.Destination, b.RoutingKey, b.Arguments, b.Nowait, bind: true); break;
            case ExchangeUnbind u: OnExchangeBind(u.Source, u.Destination, u.RoutingKey, u.Arguments, u.Nowait, bind: false); break;
            case QueueDeclare d: OnQueueDeclare(d); break;
            case QueueBind b: OnQueueBind(b.Queue, b.Exchange, b.RoutingKey, b.Arguments, b.Nowait, bind: true); break;
            case QueueUnbind u: OnQueueBind(u.Queue, u.Exchange, u.RoutingKey, u.Arguments, nowait: false, bind: false); break;
            case QueuePurge p: OnQueuePurge(p); break;
            case QueueDelete d: OnQueueDelete(d); break;
            case TxSelect: OnTxSelect(); break;
            case TxCommit: OnTxCommit(); break;
            case TxRollback: OnTxRollback(); break;
            case ConfirmSelect s: OnConfirmSelect(s); break;
            case ChannelOpen: Emit(new ChannelOpenOk()); break;
            case ChannelFlow f: OnFlow(f.Active); break;
            case ChannelClose c: OnClientClose(c); break;
            case ChannelCloseOk: break;
            case AccessRequest: Emit(new AccessRequestOk { Ticket = 1 }); break;
            default:
                throw AmqpException.CommandInvalid($"{command.Method.Name} is not allowed on a channel");
        }
    }

    /// <summary>The connection is closing and everything asked of this channel is answered: write it out and stop.</summary>
    private void StopAnswered()
    {
        FlushNow();
        Context.Stop(Self);
    }

    private void OnClientClose(ChannelClose close)
    {
        // A normal close (200) is routine (some clients open a channel per task); anything else says why.
        _log.Log(close.ReplyCode == 200 ? LogLevel.DebugLevel : LogLevel.InfoLevel,
            "channel {0} of connection {1} (vhost: '{2}', user: '{3}'): client closed it with {4} '{5}'",
            [_number, _connection.ConnectionId, VHost, _connection.User, close.ReplyCode, close.ReplyText]);
        Cleanup();
        EmitLast(new ChannelCloseOk());
        Context.Stop(Self);
    }

    private void OnFlow(bool active)
    {
        _flowActive = active;
        Emit(new ChannelFlowOk { Active = active });
        if (active)
        {
            SendHeldDeliveries();
        }
    }

    /// <summary>Sends a request to a queue or exchange and handles its answer before the next client command.</summary>
    private void Request(Action send, Action<object> onReply)
    {
        // Acks and nacks the client sent before this method must reach the queues before it.
        FlushSettlements();
        _onReply = onReply;
        _requestTarget = null;
        send();
        Timers.StartSingleTimer("reply", ReplyTimeout.Instance, _broker.EntityTimeout);
        if (!_waiting)
        {
            _waiting = true;
            Become(Waiting);
        }
    }

    /// <summary>
    /// A request to a queue's actor (local or on another node). The actor is watched: if it stops
    /// before answering (the queue is moving, or its node went), the request ends with 404 at once
    /// (or, for a cancel, as done) rather than after the entity timeout.
    /// </summary>
    private void RequestQueue(IActorRef queue, string queueName, object message, Action<object> onReply, bool doneIfGone = false)
    {
        Context.Watch(queue);
        Request(() => queue.Tell(message, Self), onReply);
        _requestTarget = queue;
        _requestQueueName = queueName;
        _requestDoneIfGone = doneIfGone;
    }

    /// <summary>The queue a pending request went to stopped without answering.</summary>
    private void OnRequestTargetGone()
    {
        string name = _requestQueueName ?? string.Empty;
        if (!_requestDoneIfGone && _currentCommand is { } command && ParkUntilAvailable(command, name))
        {
            // Moving, or its node died: the command runs again once the queue is back.
            _onReply = null;
            _requestTarget = null;
            Timers.Cancel("reply");
            return;
        }

        OnReply(_requestDoneIfGone
            ? new ConsumerRemoved(string.Empty)
            : new QueueCommandFailed(AmqpException.NotFound(
                $"queue '{name}' in vhost '{VHost}' is moving to another node or its node is down; try again")));
    }

    private void OnReply(object reply)
    {
        var handler = _onReply;
        _onReply = null;
        _requestTarget = null;
        Timers.Cancel("reply");
        try
        {
            switch (reply)
            {
                case QueueCommandFailed f: throw f.Error;
                case Exchanges.ExchangeCommandFailed f: throw f.Error;
                case Status.Failure f: throw AmqpException.InternalError(f.Cause.Message);
            }

            handler?.Invoke(reply);
        }
        catch (AmqpException e)
        {
            _onReply = null;
            // Attributed to the method that asked (50/10 for queue.declare...), as RabbitMQ does: clients check the ids.
            Fail(_currentCommand is { } command ? e.For(command.Method) : e);
            return;
        }

        if (_onReply is null && !_closed)
        {
            _waiting = false;
            Become(Active);
            // Commands left from the batch that began the wait come before anything stashed since.
            DrainCommands();
            if (!_waiting && !_closed)
            {
                Stash.UnstashAll();
            }
        }
    }

    /// <summary>Closes this channel (soft error) or hands a hard error to the connection.</summary>
    private void Fail(AmqpException error)
    {
        if (_closed)
        {
            return;
        }

        _closed = true;
        _waiting = false;
        Timers.Cancel("reply");
        Cleanup();
        if (error.IsConnectionError)
        {
            FlushNow();
            _connection.Connection.Tell(new ConnectionError(error));
            Become(Closing);
            return;
        }

        _log.Warning("channel {0} of connection {1} (vhost: '{2}', user: '{3}'): closing with {4} {5}", _number,
            _connection.ConnectionId, VHost, _connection.User, error.ReplyCode, error.ReplyText);
        EmitLast(new ChannelClose
        {
            ReplyCode = error.ReplyCode,
            ReplyText = error.ReplyText,
            FailingClassId = error.ClassId,
            FailingMethodId = error.MethodId,
        });
        Become(Closing);
        while (_pendingCommands.Count > 0)
        {
            OnCommandWhileClosing(_pendingCommands.Dequeue());
        }

        Stash.UnstashAll();
    }

    /// <summary>Frees what this channel holds: consumers go, unacked messages return to their queues.</summary>
    private void Cleanup()
    {
        if (_cleanedUp)
        {
            return;
        }

        _cleanedUp = true;
        FlushSettlements();
        foreach (var queue in _touchedQueues)
        {
            queue.Tell(new ChannelGone(Self));
        }

        _touchedQueues.Clear();
        if (_creditExhausted.Count > 0)
        {
            _creditExhausted.Clear();
            _connection.Connection.Tell(new ChannelPublishFlow(Blocked: false));
        }

        _consumers.Clear();
        _stats.Consumers = _stats.Consumers.Clear();
        _unacked.Clear();
        _held.Clear();
    }

    protected override void PreStart()
    {
        _broker.Stats.Add(_stats);
        if (_broker.Settings.ConsumerTimeout is { } timeout)
        {
            // Checked a few times per timeout: at most four times a second, at least once a minute.
            var interval = TimeSpan.FromTicks(Math.Clamp(timeout.Ticks / 4, TimeSpan.TicksPerSecond / 4, TimeSpan.TicksPerMinute));
            Timers.StartPeriodicTimer("consumer-timeout", ConsumerTimeoutCheck.Instance, interval);
        }
    }

    protected override void PostStop()
    {
        Cleanup();
        _broker.Stats.Remove(_stats);
        base.PostStop();
    }

    /// <summary>After each message: the few numbers the management API shows, copied where its sampler reads them.</summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        bool handled = base.AroundReceive(receive, message);
        _stats.Unacked = _unacked.Count;
        _stats.Unconfirmed = _unconfirmed.Count;
        _stats.Prefetch = _consumerPrefetch;
        _stats.GlobalPrefetch = _channelPrefetch;
        return handled;
    }

    private string ResolveQueueName(string name)
    {
        if (name.Length > 0)
        {
            return DelayedMessages.IsHidden(name) ? throw NoQueue(name) : name;
        }

        return _lastQueue ?? throw AmqpException.NotFound("no previously declared queue");
    }

    private QueueInfo FindQueue(string name)
    {
        var q = (DelayedMessages.IsHidden(name) ? null : _broker.Queues.Find(VHost, name)) ?? throw NoQueue(name);
        if (!q.Available)
        {
            // Its node went and it has not yet recovered on another one: the command waits (ChannelActor.Failover.cs).
            throw new QueueFailingOverException(name);
        }

        if (q.OwnerConnectionId is not null && q.OwnerConnectionId != _connection.ConnectionId)
        {
            throw AmqpException.ResourceLocked(
                $"cannot obtain exclusive access to locked queue '{name}' in vhost '{VHost}'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.");
        }

        return q;
    }

    private AmqpException NoQueue(string name) => AmqpException.NotFound($"no queue '{name}' in vhost '{VHost}'");

    // Output: frames are batched in _out and written to the socket once the mailbox has been worked through.

    private void Emit(Method method)
    {
        FrameWriter.WriteMethod(_out, _number, method);
        ScheduleFlush();
    }

    private void EmitContent(Method method, Message message)
    {
        FrameWriter.WriteContent(_out, _number, method, message.RawProperties, message.Body, _connection.FrameMax);
        ScheduleFlush();
    }

    private void ScheduleFlush()
    {
        if (!_flushScheduled)
        {
            _flushScheduled = true;
            Self.Tell(Flush.Instance);
        }
    }

    /// <summary>
    /// Writes a channel's last frame (close or close-ok) after everything owed before it: the
    /// confirms go first, since nothing of a channel may follow its close (amqplib fails on a
    /// basic.ack for a channel it has closed).
    /// </summary>
    private void EmitLast(Method method)
    {
        FlushConfirms();
        Emit(method);
        FlushNow();
    }

    private void FlushNow()
    {
        // Frames emitted while flushing (confirms) go out in this same write.
        _flushScheduled = true;
        FlushSettlements();
        FlushConfirms();
        if (_out.Position > 0)
        {
            _outbound.Write(_out.ToArray());
            _out.Reset();
        }

        GrantDeliveryCredit();
        _flushScheduled = false;
    }
}
