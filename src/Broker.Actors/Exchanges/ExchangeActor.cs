using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Broker.Actors.Cluster;
using Broker.Actors.Routing;
using Broker.Actors.Topology;
using Broker.Protocol;

namespace Broker.Actors.Exchanges;

/// <summary>
/// One exchange: the authoritative, persisted definition and its bindings (as source). It is not
/// on the publish path: after every change it replicates a new versioned snapshot of its routes
/// to every node's <see cref="RoutingTable"/>, which channels route against, and answers the
/// client only once every reachable node has it. A durable exchange journals its creation, its
/// bindings to durable destinations and its removal, and every <see cref="SnapshotEvery"/>
/// binding changes it snapshots itself and deletes the events before. What is not journaled
/// (a non-durable exchange, bindings to non-durable destinations) lives on in the replicas: an
/// incarnation that starts on another node (hand-off, or its node died) takes it from there.
/// </summary>
public sealed class ExchangeActor : ReceivePersistentActor
{
    private readonly BrokerContext _broker;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private const int SnapshotEvery = 100;

    private readonly List<Binding> _bindings = new();

    /// <summary>The bindings that are in the journal (those to durable destinations).</summary>
    private readonly List<Binding> _journaled = new();
    private int _eventsSinceSnapshot;

    /// <summary>Sequence number of the ExchangeRemoved being cleaned up after, 0 when none.</summary>
    private long _removedAt;
    private readonly string _vhost;
    private readonly string _name;
    private ExchangeDefinition? _definition;
    private TopologyVersion _version;

    public ExchangeActor(BrokerContext broker, string entityId)
    {
        _broker = broker;
        (_vhost, _name) = EntityIds.Parse(entityId);
        PersistenceId = "exchange-" + EntityIds.PersistenceSuffix(_vhost, _name);

        Recover<ExchangeCreated>(e => _definition = new ExchangeDefinition(e.VHost, e.Name, e.Type, true, e.AutoDelete,
            e.Internal, ArgumentCodec.Decode(e.Arguments)));
        Recover<ExchangeBound>(e =>
        {
            var b = ToBinding(e.Destination, e.ToExchange, e.RoutingKey, e.Arguments);
            _bindings.Add(b);
            _journaled.Add(b);
        });
        Recover<ExchangeUnbound>(e =>
        {
            var b = ToBinding(e.Destination, e.ToExchange, e.RoutingKey, e.Arguments);
            _bindings.RemoveAll(x => x.SameAs(b));
            _journaled.RemoveAll(x => x.SameAs(b));
        });
        Recover<ExchangeRemoved>(_ =>
        {
            _definition = null;
            _bindings.Clear();
            _journaled.Clear();
        });
        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is ExchangeSnapshot s)
            {
                var e = s.Definition;
                _definition = new ExchangeDefinition(e.VHost, e.Name, e.Type, true, e.AutoDelete, e.Internal,
                    ArgumentCodec.Decode(e.Arguments));
                foreach (var x in s.Bindings)
                {
                    var b = ToBinding(x.Destination, x.ToExchange, x.RoutingKey, x.Arguments);
                    _bindings.Add(b);
                    _journaled.Add(b);
                }
            }
        });
        Recover<RecoveryCompleted>(_ =>
        {
            AdoptReplicatedState();
            if (_definition is not null)
            {
                PublishRoute();
            }
        });

        Command<DeclareExchange>(Declare);
        Command<DeleteExchange>(Delete);
        Command<AddBinding>(cmd => IfDeclared(() => Bind(cmd.Binding, cmd.DestinationDurable)));
        Command<RemoveBinding>(cmd => IfDeclared(() => Unbind(cmd.Binding)));
        Command<RemoveBindingsTo>(RemoveBindingsTo);
        Command<StopEntity>(_ => Context.Stop(Self));
        Command<Queues.WakeEntity>(_ =>
        {
            Sender.Tell(new Queues.EntityAwake(_definition is not null));
            Passivate();
        });
        Command<SaveSnapshotSuccess>(s =>
        {
            DeleteMessages(s.Metadata.SequenceNr);
            DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1));
        });
        Command<SaveSnapshotFailure>(f => _log.Warning("exchange '{0}': snapshot failed: {1}", _name, f.Cause.Message));
        Command<DeleteMessagesSuccess>(_ => FinishRemoval());
        Command<DeleteMessagesFailure>(f =>
        {
            _log.Warning("exchange '{0}': journal compaction failed: {1}", _name, f.Cause.Message);
            FinishRemoval();
        });
        Command<DeleteSnapshotsSuccess>(_ =>
        {
            if (_removedAt > 0)
            {
                DeleteMessages(_removedAt);
            }
        });
        Command<DeleteSnapshotsFailure>(f =>
        {
            // Keep the events (ending in ExchangeRemoved): they still say the exchange is gone.
            _log.Warning("exchange '{0}': snapshot cleanup failed: {1}", _name, f.Cause.Message);
            FinishRemoval();
        });
    }

    public override string PersistenceId { get; }

    private bool Durable => _definition is { Durable: true };

    private void Declare(DeclareExchange cmd)
    {
        var d = cmd.Definition;
        if (_definition is not null)
        {
            if (!cmd.Passive && _definition.Difference(d.Type, d.Durable, d.AutoDelete, d.Internal, d.Arguments) is { } diff)
            {
                Fail(AmqpException.PreconditionFailed(diff));
                return;
            }

            Sender.Tell(new ExchangeDeclared(_name));
            return;
        }

        if (cmd.Passive)
        {
            Fail(AmqpException.NotFound($"no exchange '{_name}' in vhost '{_vhost}'"));
            Passivate();
            return;
        }

        var replyTo = Sender;
        void Created()
        {
            _definition = d;
            PublishRouteThenReply(replyTo, new ExchangeDeclared(_name));
        }

        if (d.Durable)
        {
            Persist(new ExchangeCreated(d.VHost, d.Name, d.Type, d.AutoDelete, d.Internal, ArgumentCodec.Encode(d.Arguments)),
                _ => Created());
        }
        else
        {
            Created();
        }
    }

    private void Delete(DeleteExchange cmd)
    {
        if (_definition is null)
        {
            // Deleting an exchange that does not exist succeeds, as in RabbitMQ.
            Sender.Tell(new ExchangeDeleted(_name));
            Passivate();
            return;
        }

        if (cmd.IfUnused && _bindings.Count > 0)
        {
            Fail(AmqpException.PreconditionFailed($"exchange '{_name}' in vhost '{_vhost}' in use"));
            return;
        }

        Remove(Sender);
    }

    private void Remove(IActorRef replyTo)
    {
        var wasDurable = Durable;
        _definition = null;
        _bindings.Clear();
        _journaled.Clear();
        var removed = _broker.Topology.Replicate(new ExchangeGone(_vhost, _name, NextVersion()));
        var unbound = _broker.RemoveBindingsTo(_vhost, _name, toExchange: true);
        BrokerContext.TellWhenDone(Task.WhenAll(removed, unbound), replyTo, new ExchangeDeleted(_name), Self);
        if (wasDurable)
        {
            // Snapshots first, then the events: deleting the events first could leave a snapshot
            // that brings the exchange back after a crash in between.
            Persist(new ExchangeRemoved(_name), _ =>
            {
                _removedAt = LastSequenceNr;
                DeleteSnapshots(new SnapshotSelectionCriteria(LastSequenceNr));
            });
        }

        _log.Info("Deleted exchange '{0}' in vhost '{1}'", _name, _vhost);
        if (!wasDurable)
        {
            Passivate();
        }
    }

    private void Bind(Binding binding, bool destinationDurable)
    {
        if (_definition!.RoutingType == ExchangeType.Headers)
        {
            HeadersMatcher.Validate(binding.Arguments);
        }

        if (_bindings.Exists(b => b.SameAs(binding)))
        {
            Sender.Tell(new BindingAdded(binding));
            return;
        }

        var replyTo = Sender;
        void Added()
        {
            _bindings.Add(binding);
            PublishRouteThenReply(replyTo, new BindingAdded(binding));
        }

        if (Durable && destinationDurable)
        {
            Persist(new ExchangeBound(binding.Destination, binding.ToExchange, binding.RoutingKey,
                ArgumentCodec.Encode(binding.Arguments)), _ =>
            {
                _journaled.Add(binding);
                Added();
                MaybeSnapshot();
            });
        }
        else
        {
            Added();
        }
    }

    private void Unbind(Binding binding)
    {
        if (!_bindings.Exists(b => b.SameAs(binding)))
        {
            Sender.Tell(new BindingRemoved(binding));
            return;
        }

        var replyTo = Sender;
        void Removed()
        {
            _bindings.RemoveAll(b => b.SameAs(binding));
            PublishRouteThenReply(replyTo, new BindingRemoved(binding));
            DeleteIfUnused();
        }

        if (_journaled.Exists(b => b.SameAs(binding)))
        {
            Persist(new ExchangeUnbound(binding.Destination, binding.ToExchange, binding.RoutingKey,
                ArgumentCodec.Encode(binding.Arguments)), _ =>
            {
                _journaled.RemoveAll(b => b.SameAs(binding));
                Removed();
                MaybeSnapshot();
            });
        }
        else
        {
            Removed();
        }
    }

    private void RemoveBindingsTo(RemoveBindingsTo cmd)
    {
        var gone = _bindings.Where(b => b.Destination == cmd.Destination && b.ToExchange == cmd.ToExchange).ToList();
        if (gone.Count == 0 || _definition is null)
        {
            Sender.Tell(new BindingsRemoved(cmd.Destination));
            return;
        }

        var replyTo = Sender;
        void Removed()
        {
            _bindings.RemoveAll(b => b.Destination == cmd.Destination && b.ToExchange == cmd.ToExchange);
            PublishRouteThenReply(replyTo, new BindingsRemoved(cmd.Destination));
            DeleteIfUnused();
        }

        var journaled = gone.Where(g => _journaled.Exists(b => b.SameAs(g))).ToList();
        if (journaled.Count > 0)
        {
            var events = journaled.Select(b => new ExchangeUnbound(b.Destination, b.ToExchange, b.RoutingKey,
                ArgumentCodec.Encode(b.Arguments))).ToList();
            int left = events.Count;
            PersistAll(events, _ =>
            {
                if (--left == 0)
                {
                    _journaled.RemoveAll(b => b.Destination == cmd.Destination && b.ToExchange == cmd.ToExchange);
                    Removed();
                    MaybeSnapshot();
                }
            });
        }
        else
        {
            Removed();
        }
    }

    /// <summary>An auto-delete exchange goes when its last binding (as source) is removed.</summary>
    private void DeleteIfUnused()
    {
        if (_definition is { AutoDelete: true } && _bindings.Count == 0)
        {
            _log.Info("Deleting auto-delete exchange '{0}' in vhost '{1}': its last binding went", _name, _vhost);
            Remove(ActorRefs.Nobody);
        }
    }

    private void IfDeclared(Action action)
    {
        if (_definition is null)
        {
            Fail(AmqpException.NotFound($"no exchange '{_name}' in vhost '{_vhost}'"));
            Passivate();
            return;
        }

        action();
    }

    private void FinishRemoval()
    {
        if (_removedAt > 0)
        {
            _removedAt = 0;
            Passivate();
        }
    }

    /// <summary>Bounds the journal: a snapshot of the definition and journaled bindings replaces the events.</summary>
    private void MaybeSnapshot()
    {
        if (++_eventsSinceSnapshot < SnapshotEvery || _definition is not { } d)
        {
            return;
        }

        _eventsSinceSnapshot = 0;
        var created = new ExchangeCreated(d.VHost, d.Name, d.Type, d.AutoDelete, d.Internal, ArgumentCodec.Encode(d.Arguments));
        var bindings = _journaled.Select(b => new ExchangeBound(b.Destination, b.ToExchange, b.RoutingKey,
            ArgumentCodec.Encode(b.Arguments))).ToList();
        SaveSnapshot(new ExchangeSnapshot(created, bindings));
    }

    private Task PublishRoute() =>
        _broker.Topology.Replicate(new RouteChanged(_definition!, _bindings.ToArray(), NextVersion()));

    /// <summary>Replicates the new routes and answers the client once every reachable node has them.</summary>
    private void PublishRouteThenReply(IActorRef replyTo, object reply) => BrokerContext.TellWhenDone(PublishRoute(), replyTo, reply, Self);

    /// <summary>Versions of this incarnation start above whatever an earlier one (on any node) replicated.</summary>
    private TopologyVersion NextVersion()
    {
        return _version = TopologyVersion.NextOf(_version, _broker.Routes.VersionOf(_vhost, _name));
    }

    /// <summary>
    /// After recovery: what the journal does not hold (a non-durable exchange, bindings to
    /// non-durable destinations) is taken from this node's replica, which every earlier
    /// incarnation kept up to date. A deleted exchange has a tombstone there, so nothing returns.
    /// </summary>
    private void AdoptReplicatedState()
    {
        if (_broker.Routes.Find(_vhost, _name) is not { } replica)
        {
            return;
        }

        if (_definition is null)
        {
            if (replica.Definition.Durable)
            {
                return; // the journal says it is gone (or never was): the replica is stale
            }

            _definition = replica.Definition;
        }

        foreach (var b in replica.Bindings)
        {
            if (!_bindings.Exists(x => x.SameAs(b)))
            {
                _bindings.Add(b);
            }
        }
    }

    private Binding ToBinding(string destination, bool toExchange, string routingKey, byte[] args) =>
        new(_name, destination, toExchange, routingKey, ArgumentCodec.Decode(args));

    private void Fail(AmqpException error) => Sender.Tell(new ExchangeCommandFailed(error));

    private void Passivate()
    {
        if (_definition is null)
        {
            Context.Parent.Tell(new Passivate(StopEntity.Instance));
        }
    }
}
