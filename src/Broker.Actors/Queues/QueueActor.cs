using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Broker.Actors.Cluster;
using Broker.Actors.Persistence;
using Broker.Actors.Topology;
using Broker.Protocol;

namespace Broker.Actors.Queues;

/// <summary>
/// One queue: a persistent actor and a sharded entity keyed by vhost and name. It is the glue
/// around QueueState, which holds the messages and consumers and makes every decision about them
/// (what is delivered to whom, what expires, what a limit drops); the actor carries out what the
/// state decides (QueueActor.Effects.cs), and:
/// - hands commands from channels to the state (QueueActor.Delivery.cs), dead-letters what the
///   state gives up (QueueActor.DeadLetter.cs);
/// - enforces exclusivity (owner connection), auto-delete after the last consumer, if-unused/if-empty;
/// - paces publishers with credit (QueueActor.Flow.cs);
/// - journals what must survive, in batches: a durable queue's existence, its persistent messages,
///   their removal, and how far deliveries went; it compacts its journal as acks come in
///   (QueueActor.Journal.cs);
/// - registers where it lives in the replicated topology, so channels on every node send to it
///   directly, and watches the channels it deals with, so a channel lost with its node is
///   cleaned up like one that closed.
/// A durable queue is a sharded entity (it moves and fails over); an exclusive or non-durable one
/// is a child of its node's LocalQueuesActor and never moves.
/// </summary>
public sealed partial class QueueActor : ReceivePersistentActor, IWithTimers
{
    private readonly BrokerContext _broker;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _vhost;
    private readonly string _name;
    private QueueDefinition? _definition;

    /// <summary>The queue's messages and consumers and every decision about them; set while the queue exists.</summary>
    private QueueState<IActorRef>? _state;
    private string? _ownerConnectionId;
    private IActorRef? _ownerConnection;
    private TopologyVersion _version;

    /// <summary>Channels this queue holds state for (publish credit, consumers, unacked): watched, so their loss is noticed.</summary>
    private readonly HashSet<IActorRef> _watchedChannels = new();

    /// <summary>The numbers the management API shows, registered with the node while this actor runs.</summary>
    private readonly Stats.QueueStats _stats;

    /// <summary>Stopping (hand-off to another node, or deleted): finish the journal writes, take no more messages.</summary>
    private bool _stopping;

    public QueueActor(BrokerContext broker, string entityId)
    {
        _broker = broker;
        (_vhost, _name) = EntityIds.Parse(entityId);
        PersistenceId = "queue-" + EntityIds.PersistenceSuffix(_vhost, _name);
        _stats = new Stats.QueueStats(_vhost, _name);
        _sharded = Context.Parent.Path.Name != LocalQueuesActor.ActorName;

        RecoverJournal();

        Command<Publish>(OnPublish);
        Command<Settle>(OnSettle);
        Command<DeliveryCredit>(OnDeliveryCredit);
        Command<ConsumerPrefetch>(cmd => _state?.ChangePrefetch(cmd.Tag, Sender, cmd.Prefetch, Tick()));
        Command<PublishCreditProbe>(_ => OnPublishCreditProbe());
        Command<DeclareQueue>(Declare);
        Command<AddConsumer>(cmd => IfDeclared(cmd.ConnectionId, () => AddConsumer(cmd)));
        Command<RemoveConsumer>(RemoveConsumer);
        Command<GetMessage>(cmd => IfDeclared(cmd.ConnectionId, () => Get(cmd)));
        Command<ChannelGone>(cmd =>
        {
            if (_watchedChannels.Remove(cmd.Channel))
            {
                Context.Unwatch(cmd.Channel);
            }

            DropChannel(cmd.Channel);
        });
        Command<PurgeQueue>(cmd => IfDeclared(cmd.ConnectionId, Purge));
        Command<DeleteQueue>(Delete);
        Command<WakeEntity>(_ =>
        {
            Sender.Tell(new EntityAwake(_definition is not null));
            StopIfUndeclared();
        });
        Command<FlushJournal>(_ => FlushAndReply());
        Command<JournalTick>(_ => WriteBatches());
        Command<StallCheck>(_ => CheckForStalledConsumers());
        Command<LeaseRecheck>(_ => DeliverReady());
        Command<ExpireMessages>(_ => OnExpireMessages());
        Command<TopologyRecovered>(_ => _state?.Recovered(Tick()));
        Command<Policies.PoliciesChanged>(_ => ApplyPolicy());
        Command<ExpireQueue>(OnExpireQueue);
        Command<Enqueued>(OnDeadLetterConfirmed);
        Command<EnqueueFailed>(OnDeadLetterFailed);
        Command<DeadLetterRetryTick>(_ => RetryDeadLetters());
        // Dead-letter targets grant publish credit like to any publisher; the queue does not need it.
        Command<PublishCredit>(_ => { });
        Command<DeleteMessagesSuccess>(s => _log.Debug("queue '{0}': journal compacted up to {1}", _name, s.ToSequenceNr));
        Command<DeleteMessagesFailure>(f => _log.Warning("queue '{0}': journal compaction failed: {1}", _name, f.Cause.Message));
        Command<StopEntity>(_ => BeginStop());
        Command<StopAnnounced>(_ => StopAfterFlush());
        Command<RemovalDone>(OnRemovalDone);
        Command<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_ownerConnection))
            {
                _log.Info("Deleting exclusive queue '{0}' in vhost '{1}': its connection closed", _name, _vhost);
                Remove(ActorRefs.Nobody, 0);
            }
            else if (_watchedChannels.Remove(t.ActorRef))
            {
                // A channel that went without ChannelGone: its node died, or it crashed.
                DropChannel(t.ActorRef);
            }
        });
    }

    public override string PersistenceId { get; }

    /// <summary>Without a snapshot (the broker writes none): see JournalOnlyRecovery.</summary>
    public override Recovery Recovery => JournalOnlyRecovery.Instance;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Durable, non-exclusive queues journal; everything else lives in memory only.</summary>
    private bool Durable => _definition is { NodeLocal: false };

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
            var replyTo = Sender;
            void Created()
            {
                _broker.Stats.Lifecycle.Add(ref _broker.Stats.Lifecycle.QueuesCreated);
                _definition = def;
                _state = NewState(def);
                // Ids go on above a deleted predecessor's, so nothing late for it can touch these.
                _state.RestoreCounters(_idFloor, 0);
                if (def.Exclusive)
                {
                    _ownerConnectionId = cmd.ConnectionId;
                    _ownerConnection = cmd.Connection;
                    Context.Watch(cmd.Connection);
                }

                _log.Info("Queue '{0}' in vhost '{1}' declared ({2}) on node {3}", _name, _vhost,
                    !def.NodeLocal ? "durable" : def.Exclusive ? "exclusive" : "non-durable", _broker.Settings.NodeName);
                RestartExpiryTimer();
                BrokerContext.TellWhenDone(Register(), replyTo, new QueueDeclareResult(_name, 0, 0), Self);
            }

            if (!def.NodeLocal)
            {
                Persist(CreatedEvent(def), _ => Created());
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

        if (!cmd.Passive)
        {
            _broker.Stats.Lifecycle.Add(ref _broker.Stats.Lifecycle.QueuesDeclared);
            // A redeclare renews an x-expires lease; a passive one only looks.
            RestartExpiryTimer();
        }

        Sender.Tell(new QueueDeclareResult(_name, (uint)_state!.ReadyCount, ConsumerCount));
    }

    /// <summary>After each message: the queue's depth and consumer count, copied where the management's sampler reads them.</summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        bool handled = base.AroundReceive(receive, message);
        if (_state is { } state)
        {
            _stats.Ready = state.ReadyCount;
            _stats.Unacked = state.UnackedCount;
            _stats.Consumers = state.ConsumerCount;
            _stats.ReadyBytes = state.ReadyBytes;
        }

        return handled;
    }

    private QueueState<IActorRef> NewState(QueueDefinition def) =>
        new(EffectiveArguments(def), journaled: !def.NodeLocal, this, NewPagedTail(), _broker.Settings.QueueMemoryBudget);

    private void OnPublish(Publish cmd)
    {
        GrantPublishCredit();
        if (_stopping)
        {
            // Moving to another node: what is not yet journaled is refused rather than lost.
            if (cmd.ConfirmId != 0)
            {
                Sender.Tell(new EnqueueFailed(Self, cmd.ConfirmId, $"queue '{_name}' is moving to another node"));
            }

            return;
        }

        if (!LeaseValid)
        {
            // This node's lease lapsed (frozen, or cut off from the database): the queue may be
            // served elsewhere by now, so nothing is taken in (or confirmed) here.
            if (cmd.ConfirmId != 0)
            {
                Sender.Tell(new EnqueueFailed(Self, cmd.ConfirmId, $"queue '{_name}': this node's lease has lapsed"));
            }

            return;
        }

        if (_state is null)
        {
            // Routed just as the queue went away: the message is dropped, as for a deleted queue.
            ConfirmNow(cmd.ConfirmId);
            return;
        }

        // Accepted (QueueActor.Effects.cs) confirms it: at once, or once a persistent one is journaled.
        _publishConfirm = cmd.ConfirmId;
        var queued = _state.Publish(cmd.Message, Tick());
        _publishConfirm = 0;
        if (queued is null && cmd.ConfirmId != 0)
        {
            // x-overflow reject-publish: a full queue refuses the message.
            Sender.Tell(new EnqueueFailed(Self, cmd.ConfirmId, $"queue '{_name}' in vhost '{_vhost}' is full"));
        }
    }

    private void ConfirmNow(long confirmId)
    {
        if (confirmId != 0)
        {
            Sender.Tell(new Enqueued(Self, confirmId));
        }
    }

    private void Purge()
    {
        int purged = _state!.Purge();
        Sender.Tell(new QueuePurged((uint)purged));
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

        if (cmd.IfUnused && _state!.ConsumerCount > 0)
        {
            Fail(AmqpException.PreconditionFailed($"queue '{_name}' in vhost '{_vhost}' in use"));
            return;
        }

        if (cmd.IfEmpty && _state!.ReadyCount > 0)
        {
            Fail(AmqpException.PreconditionFailed($"queue '{_name}' in vhost '{_vhost}' is not empty"));
            return;
        }

        Remove(Sender, (uint)_state!.ReadyCount);
    }

    /// <summary>Deletes the queue: consumers are cancelled, bindings removed, the journal cleared.</summary>
    private void Remove(IActorRef replyTo, uint count)
    {
        bool durable = Durable;
        _broker.Stats.Lifecycle.Add(ref _broker.Stats.Lifecycle.QueuesDeleted);
        foreach (var c in _state!.Consumers)
        {
            c.Channel.Tell(new ConsumerCancelled(_name, c.Tag));
        }

        _idFloor = Math.Max(_idFloor, _state.NextId);
        _state.Clear();
        _state = null;
        DisposePages();
        foreach (var (_, waiting) in _getsAfterWatermark)
        {
            waiting.Tell(new GetResult(_name, null, 0));
        }

        _getsAfterWatermark.Clear();
        _definition = null;
        // Nothing of the deleted queue may act on a queue declared again on this actor.
        Timers.Cancel("expire-messages");
        Timers.Cancel("expire-queue");
        Timers.Cancel("dead-letter-retry");
        _deadLettersInFlight.Clear();
        _ledger = new JournalLedger();
        var unregistered = _broker.Topology.Replicate(new QueueGone(_vhost, _name, NextVersion()));
        var unbound = _broker.RemoveBindingsTo(_vhost, _name, toExchange: false);
        // The actor stops only after the client has its answer: a channel watching it would
        // otherwise see it stop first and take the delete for a failure.
        BrokerContext.TellWhenDone(Task.WhenAll(unregistered, unbound), Self, new RemovalDone(replyTo, count), Self);
        if (durable)
        {
            // Nothing may be written after QueueRemoved: what is still batched goes with the queue.
            DropBatches("queue deleted");
            Persist(new QueueRemoved(_name), _ => DeleteMessages(LastSequenceNr));
        }
    }

    private void OnRemovalDone(RemovalDone done)
    {
        done.ReplyTo.Tell(new QueueDeleted(done.Count));
        // Declared again while the removal was being replicated: this actor is that new queue now.
        StopIfUndeclared();
    }

    /// <summary>Self-message: every node forgot the deleted queue and its bindings are gone.</summary>
    private sealed record RemovalDone(IActorRef ReplyTo, uint Count) : INoSerializationVerificationNeeded;

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

    private bool CanAccess(string connectionId) =>
        _ownerConnectionId is null || _ownerConnectionId == connectionId || connectionId == DeleteQueue.ByBroker;

    private AmqpException Locked() => AmqpException.ResourceLocked(
        $"cannot obtain exclusive access to locked queue '{_name}' in vhost '{_vhost}'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.");

    private void Fail(AmqpException error) => Sender.Tell(new QueueCommandFailed(error));

    private Task Register() =>
        _broker.Topology.Replicate(new QueueChanged(_definition!, Self, _ownerConnectionId, NextVersion()));

    /// <summary>Versions of this incarnation start above whatever an earlier one (on any node) replicated.</summary>
    private TopologyVersion NextVersion()
    {
        return _version = TopologyVersion.NextOf(_version, _broker.Queues.VersionOf(_vhost, _name));
    }

    /// <summary>Starts watching a channel the queue now holds state for.</summary>
    private void WatchChannel(IActorRef channel)
    {
        if (_watchedChannels.Add(channel))
        {
            Context.Watch(channel);
        }
    }

    /// <summary>An entity created by a command for a queue that does not exist does not stay around.</summary>
    private void StopIfUndeclared()
    {
        if (_definition is null)
        {
            Context.Parent.Tell(new Passivate(StopEntity.Instance));
        }
    }

    protected override void PostStop()
    {
        _broker.Stats.Remove(_stats);
        _broker.PolicyListeners.Remove(Self);
        DisposePages();
        ReleaseOnStop();
        // A durable queue that stops (moving, journal failure, node shutdown) stays registered:
        // publishes meet a dead actor and are nacked until its next incarnation registers, instead
        // of being silently unroutable. A node-local queue that stops is gone.
        if (_definition is { NodeLocal: true })
        {
            _broker.Topology.Replicate(new QueueGone(_vhost, _name, NextVersion()));
        }

        base.PostStop();
    }
}
