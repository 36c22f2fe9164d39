using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Broker.Actors.Cluster;
using Broker.Protocol;

namespace Broker.Actors.Queues;

/// <summary>
/// One queue: a persistent actor and a sharded entity keyed by vhost and name.
/// - holds the ready messages in order, the consumers with their prefetch credit, and the unacked set;
/// - delivers round-robin to consumers with credit, answers basic.get, settles acks/nacks/rejects;
/// - returns a closed channel's unacked messages to the front, marked redelivered;
/// - enforces exclusivity (owner connection), auto-delete after the last consumer, if-unused/if-empty;
/// - journals only what must survive: a durable queue's existence and removal.
/// </summary>
public sealed class QueueActor : ReceivePersistentActor, IWithTimers
{
    private readonly BrokerContext _broker;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly MessageDeque _ready = new();
    private readonly Dictionary<long, Unacked> _unacked = new();
    private readonly List<Consumer> _consumers = new();
    private readonly Dictionary<IActorRef, int> _publishesSinceCredit = new();
    private readonly Queue<IActorRef> _deferredCredit = new();
    private int _deliveredSinceCreditRelease;
    private int _deliveredSinceStallCheck;
    private bool _consumersStalled;
    private readonly string _vhost;
    private readonly string _name;
    private QueueDefinition? _definition;
    private string? _ownerConnectionId;
    private IActorRef? _ownerConnection;
    private long _nextId = 1;
    private int _roundRobin;
    private bool _hadConsumers;

    public QueueActor(BrokerContext broker, string entityId)
    {
        _broker = broker;
        (_vhost, _name) = EntityIds.Parse(entityId);
        PersistenceId = "queue-" + EntityIds.PersistenceSuffix(_vhost, _name);

        Recover<QueueCreated>(e => _definition = new QueueDefinition(e.VHost, e.Name, true, false, e.AutoDelete,
            ArgumentCodec.Decode(e.Arguments)));
        Recover<QueueRemoved>(_ => _definition = null);
        Recover<RecoveryCompleted>(_ =>
        {
            if (_definition is not null)
            {
                Register();
                _log.Info("Recovered durable queue '{0}' in vhost '{1}'", _name, _vhost);
            }
        });

        Command<DeclareQueue>(Declare);
        Command<Publish>(OnPublish);
        Command<AddConsumer>(cmd => IfDeclared(cmd.ConnectionId, () => AddConsumer(cmd)));
        Command<RemoveConsumer>(RemoveConsumer);
        Command<GetMessage>(cmd => IfDeclared(cmd.ConnectionId, () => Get(cmd)));
        Command<Settle>(OnSettle);
        Command<DeliveryCredit>(OnDeliveryCredit);
        Command<StallCheck>(_ => CheckForStalledConsumers());
        Command<ChannelGone>(cmd => DropChannel(cmd.Channel));
        Command<PurgeQueue>(cmd => IfDeclared(cmd.ConnectionId, Purge));
        Command<DeleteQueue>(Delete);
        Command<CheckQueueAccess>(cmd => IfDeclared(cmd.ConnectionId, () => Sender.Tell(new QueueAccessGranted(_name))));
        Command<StopEntity>(_ => Context.Stop(Self));
        Command<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_ownerConnection))
            {
                _log.Info("Deleting exclusive queue '{0}' in vhost '{1}': its connection closed", _name, _vhost);
                Remove(ActorRefs.Nobody, 0);
            }
        });
    }

    public override string PersistenceId { get; }

    public ITimerScheduler Timers { get; set; } = null!;

    private uint ConsumerCount => (uint)_consumers.Count;

    private void Declare(DeclareQueue cmd)
    {
        if (_definition is null)
        {
            if (cmd.Passive)
            {
                Fail(AmqpException.NotFound($"no queue '{_name}' in vhost '{_vhost}'"));
                StopIfUndeclared();
                return;
            }

            var def = cmd.Definition;
            void Created()
            {
                _definition = def;
                if (def.Exclusive)
                {
                    _ownerConnectionId = cmd.ConnectionId;
                    _ownerConnection = cmd.Connection;
                    Context.Watch(cmd.Connection);
                }

                Register();
                Sender.Tell(new QueueDeclareResult(_name, 0, 0));
            }

            if (def.Durable && !def.Exclusive)
            {
                Persist(new QueueCreated(_vhost, _name, def.AutoDelete, ArgumentCodec.Encode(def.Arguments)), _ => Created());
            }
            else
            {
                Created();
            }

            return;
        }

        if (!CanAccess(cmd.ConnectionId) || (!cmd.Passive && cmd.Definition.Exclusive != _definition.Exclusive))
        {
            Fail(Locked());
            return;
        }

        if (!cmd.Passive && _definition.Difference(cmd.Definition) is { } difference)
        {
            Fail(AmqpException.PreconditionFailed(difference));
            return;
        }

        Sender.Tell(new QueueDeclareResult(_name, (uint)_ready.Count, ConsumerCount));
    }

    private void OnPublish(Publish cmd)
    {
        GrantPublishCredit();
        if (_definition is null)
        {
            // Routed just as the queue went away: the message is dropped, as for a deleted queue.
            ConfirmIfAsked(cmd.ConfirmId);
            return;
        }

        _ready.PushBack(new QueuedMessage(_nextId++, cmd.Message));
        ConfirmIfAsked(cmd.ConfirmId);
        DeliverReady();
    }

    private void GrantPublishCredit()
    {
        _publishesSinceCredit.TryGetValue(Sender, out int n);
        if (++n >= FlowControl.PublishCreditBatch)
        {
            if (_ready.Count >= FlowControl.BacklogThreshold && _consumers.Count > 0 && !_consumersStalled)
            {
                _deferredCredit.Enqueue(Sender);
                if (!Timers.IsTimerActive("stall-check"))
                {
                    Timers.StartPeriodicTimer("stall-check", StallCheck.Instance, FlowControl.StallCheckInterval);
                }
            }
            else
            {
                Sender.Tell(new PublishCredit(Self, n));
            }

            n = 0;
        }

        _publishesSinceCredit[Sender] = n;
    }

    /// <summary>Hands back deferred publish credit as deliveries drain the backlog (or consumers go).</summary>
    private void ReleaseDeferredCredit(int delivered)
    {
        if (_deferredCredit.Count == 0)
        {
            return;
        }

        _deliveredSinceCreditRelease += delivered;
        bool all = _consumers.Count == 0 || _ready.Count < FlowControl.BacklogThreshold;
        while (_deferredCredit.Count > 0 && (all || _deliveredSinceCreditRelease >= FlowControl.PublishCreditBatch))
        {
            _deferredCredit.Dequeue().Tell(new PublishCredit(Self, FlowControl.PublishCreditBatch));
            _deliveredSinceCreditRelease = Math.Max(0, _deliveredSinceCreditRelease - FlowControl.PublishCreditBatch);
        }
    }

    /// <summary>
    /// Consumers that took nothing for a whole interval are stuck, not slow: publishers must not wait
    /// for them, so deferred credit goes back and no more is deferred until deliveries resume.
    /// </summary>
    private void CheckForStalledConsumers()
    {
        if (_deliveredSinceStallCheck == 0)
        {
            _consumersStalled = true;
            while (_deferredCredit.Count > 0)
            {
                _deferredCredit.Dequeue().Tell(new PublishCredit(Self, FlowControl.PublishCreditBatch));
            }
        }

        _deliveredSinceStallCheck = 0;
        if (_deferredCredit.Count == 0)
        {
            Timers.Cancel("stall-check");
        }
    }

    private void OnDeliveryCredit(DeliveryCredit credit)
    {
        var c = _consumers.Find(x => x.Tag == credit.ConsumerTag && x.Channel.Equals(Sender));
        if (c is not null)
        {
            c.Outstanding = Math.Max(0, c.Outstanding - credit.Count);
            DeliverReady();
        }
    }

    private void ConfirmIfAsked(long confirmId)
    {
        if (confirmId != 0)
        {
            Sender.Tell(new Enqueued(Self, confirmId));
        }
    }

    private void AddConsumer(AddConsumer cmd)
    {
        if (_consumers.Count > 0 && (cmd.Exclusive || _consumers.Exists(c => c.Exclusive)))
        {
            Fail(AmqpException.AccessRefused($"queue '{_name}' in vhost '{_vhost}' in exclusive use"));
            return;
        }

        _consumers.Add(new Consumer(cmd.Tag, Sender, cmd.NoAck, cmd.Exclusive, cmd.Prefetch));
        _hadConsumers = true;
        Sender.Tell(new ConsumerAdded(cmd.Tag));
        DeliverReady();
    }

    private void RemoveConsumer(RemoveConsumer cmd)
    {
        int i = _consumers.FindIndex(c => c.Tag == cmd.Tag && c.Channel.Equals(Sender));
        if (i >= 0)
        {
            _consumers.RemoveAt(i);
        }

        Sender.Tell(new ConsumerRemoved(cmd.Tag));
        ReleaseDeferredCredit(0);
        DeleteIfUnused();
    }

    private void Get(GetMessage cmd)
    {
        if (_ready.Count == 0)
        {
            Sender.Tell(new GetResult(_name, null, 0));
            return;
        }

        var m = _ready.PopFront();
        if (!cmd.NoAck)
        {
            _unacked[m.Id] = new Unacked(m, Sender, null);
        }

        Sender.Tell(new GetResult(_name, m, (uint)_ready.Count));
    }

    private void OnSettle(Settle cmd)
    {
        bool requeued = false;
        foreach (var id in cmd.MessageIds)
        {
            if (!_unacked.Remove(id, out var u))
            {
                continue;
            }

            if (u.Consumer is { } c)
            {
                c.InFlight--;
            }

            if (cmd.Outcome == Settlement.Requeue)
            {
                u.Message.Redelivered = true;
                _ready.InsertById(u.Message);
                requeued = true;
            }
        }

        if (requeued || _consumers.Count > 0)
        {
            DeliverReady();
        }
    }

    private void DropChannel(IActorRef channel)
    {
        int removed = _consumers.RemoveAll(c => c.Channel.Equals(channel));
        _publishesSinceCredit.Remove(channel);
        List<long>? ids = null;
        foreach (var (id, u) in _unacked)
        {
            if (u.Channel.Equals(channel))
            {
                (ids ??= new List<long>()).Add(id);
            }
        }

        if (ids is not null)
        {
            foreach (var id in ids)
            {
                _unacked.Remove(id, out var u);
                u.Message.Redelivered = true;
                _ready.InsertById(u.Message);
            }
        }

        if (removed > 0)
        {
            DeleteIfUnused();
        }

        if (_definition is not null)
        {
            DeliverReady();
        }
    }

    private void Purge()
    {
        int n = _ready.Clear();
        Sender.Tell(new QueuePurged((uint)n));
        ReleaseDeferredCredit(0);
    }

    private void Delete(DeleteQueue cmd)
    {
        if (_definition is null)
        {
            // Deleting a queue that does not exist succeeds, as in RabbitMQ.
            Sender.Tell(new QueueDeleted(0));
            StopIfUndeclared();
            return;
        }

        if (!CanAccess(cmd.ConnectionId))
        {
            Fail(Locked());
            return;
        }

        if (cmd.IfUnused && _consumers.Count > 0)
        {
            Fail(AmqpException.PreconditionFailed($"queue '{_name}' in vhost '{_vhost}' in use"));
            return;
        }

        if (cmd.IfEmpty && _ready.Count > 0)
        {
            Fail(AmqpException.PreconditionFailed($"queue '{_name}' in vhost '{_vhost}' is not empty"));
            return;
        }

        Remove(Sender, (uint)_ready.Count);
    }

    /// <summary>Deletes the queue: consumers are cancelled, bindings removed, the journal cleared.</summary>
    private void Remove(IActorRef replyTo, uint count)
    {
        var definition = _definition!;
        foreach (var c in _consumers)
        {
            c.Channel.Tell(new ConsumerCancelled(_name, c.Tag));
        }

        _consumers.Clear();
        _ready.Clear();
        _unacked.Clear();
        _definition = null;
        _broker.Queues.Unregister(_vhost, _name, Self);
        _broker.RemoveBindingsTo(_vhost, _name, toExchange: false).ContinueWith(_ => replyTo.Tell(new QueueDeleted(count)));
        if (definition.Durable && !definition.Exclusive)
        {
            Persist(new QueueRemoved(_name), _ => DeleteMessages(LastSequenceNr));
        }

        Context.Parent.Tell(new Passivate(StopEntity.Instance));
    }

    private void DeleteIfUnused()
    {
        if (_definition is { AutoDelete: true } && _hadConsumers && _consumers.Count == 0)
        {
            _log.Info("Deleting auto-delete queue '{0}' in vhost '{1}': its last consumer went", _name, _vhost);
            Remove(ActorRefs.Nobody, 0);
        }
    }

    private void DeliverReady()
    {
        int before = _ready.Count;
        DeliverToConsumers();
        int delivered = before - _ready.Count;
        if (delivered > 0)
        {
            _consumersStalled = false;
            _deliveredSinceStallCheck += delivered;
        }

        ReleaseDeferredCredit(delivered);
    }

    private void DeliverToConsumers()
    {
        int n = _consumers.Count;
        while (_ready.Count > 0 && n > 0)
        {
            Consumer? target = null;
            for (int tries = 0; tries < n; tries++)
            {
                var c = _consumers[_roundRobin++ % n];
                if (c.HasCredit)
                {
                    target = c;
                    break;
                }
            }

            if (target is null)
            {
                return;
            }

            var m = _ready.PopFront();
            if (!target.NoAck)
            {
                _unacked[m.Id] = new Unacked(m, target.Channel, target);
                target.InFlight++;
            }

            target.Outstanding++;

            target.Channel.Tell(new Deliver(_name, Self, target.Tag, m, target.NoAck));
        }
    }

    private void IfDeclared(string connectionId, Action action)
    {
        if (_definition is null)
        {
            Fail(AmqpException.NotFound($"no queue '{_name}' in vhost '{_vhost}'"));
            StopIfUndeclared();
            return;
        }

        if (!CanAccess(connectionId))
        {
            Fail(Locked());
            return;
        }

        action();
    }

    private bool CanAccess(string connectionId) => _ownerConnectionId is null || _ownerConnectionId == connectionId;

    private AmqpException Locked() => AmqpException.ResourceLocked(
        $"cannot obtain exclusive access to locked queue '{_name}' in vhost '{_vhost}'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.");

    private void Fail(AmqpException error) => Sender.Tell(new QueueCommandFailed(error));

    private void Register() => _broker.Queues.Register(new QueueInfo(_definition!, Self, _ownerConnectionId));

    /// <summary>An entity created by a command for a queue that does not exist does not stay around.</summary>
    private void StopIfUndeclared()
    {
        if (_definition is null)
        {
            Context.Parent.Tell(new Passivate(StopEntity.Instance));
        }
    }

    private sealed class StallCheck
    {
        public static readonly StallCheck Instance = new();
    }

    protected override void PostStop()
    {
        if (_definition is not null)
        {
            _broker.Queues.Unregister(_vhost, _name, Self);
        }

        base.PostStop();
    }
}
