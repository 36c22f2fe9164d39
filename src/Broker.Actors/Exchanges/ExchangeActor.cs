using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Broker.Actors.Cluster;
using Broker.Actors.Routing;
using Broker.Protocol;

namespace Broker.Actors.Exchanges;

/// <summary>
/// One exchange: the authoritative, persisted definition and its bindings (as source). It is not
/// on the publish path: after every change it publishes a new immutable <see cref="ExchangeRoute"/>
/// to the node's <see cref="RoutingTable"/>, which channels route against. A durable exchange
/// journals its creation, its bindings and its removal.
/// </summary>
public sealed class ExchangeActor : ReceivePersistentActor
{
    private readonly BrokerContext _broker;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<Binding> _bindings = new();
    private readonly string _vhost;
    private readonly string _name;
    private ExchangeDefinition? _definition;

    public ExchangeActor(BrokerContext broker, string entityId)
    {
        _broker = broker;
        (_vhost, _name) = EntityIds.Parse(entityId);
        PersistenceId = "exchange-" + EntityIds.PersistenceSuffix(_vhost, _name);

        Recover<ExchangeCreated>(e => _definition = new ExchangeDefinition(e.VHost, e.Name, e.Type, true, e.AutoDelete,
            e.Internal, ArgumentCodec.Decode(e.Arguments)));
        Recover<ExchangeBound>(e => _bindings.Add(ToBinding(e.Destination, e.ToExchange, e.RoutingKey, e.Arguments)));
        Recover<ExchangeUnbound>(e =>
        {
            var b = ToBinding(e.Destination, e.ToExchange, e.RoutingKey, e.Arguments);
            _bindings.RemoveAll(x => x.SameAs(b));
        });
        Recover<ExchangeRemoved>(_ =>
        {
            _definition = null;
            _bindings.Clear();
        });
        Recover<RecoveryCompleted>(_ =>
        {
            if (_definition is not null)
            {
                PublishRoute();
            }
        });

        Command<DeclareExchange>(Declare);
        Command<DeleteExchange>(Delete);
        Command<AddBinding>(cmd => IfDeclared(() => Bind(cmd.Binding)));
        Command<RemoveBinding>(cmd => IfDeclared(() => Unbind(cmd.Binding)));
        Command<RemoveBindingsTo>(RemoveBindingsTo);
        Command<StopEntity>(_ => Context.Stop(Self));
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

        void Created()
        {
            _definition = d;
            PublishRoute();
            Sender.Tell(new ExchangeDeclared(_name));
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
        _broker.Routes.Remove(_vhost, _name);
        _broker.RemoveBindingsTo(_vhost, _name, toExchange: true)
            .ContinueWith(_ => replyTo.Tell(new ExchangeDeleted(_name)));
        if (wasDurable)
        {
            Persist(new ExchangeRemoved(_name), _ => DeleteMessages(LastSequenceNr));
        }

        _log.Info("Deleted exchange '{0}' in vhost '{1}'", _name, _vhost);
        Passivate();
    }

    private void Bind(Binding binding)
    {
        if (_definition!.Type == ExchangeType.Headers)
        {
            HeadersMatcher.Validate(binding.Arguments);
        }

        if (_bindings.Exists(b => b.SameAs(binding)))
        {
            Sender.Tell(new BindingAdded(binding));
            return;
        }

        void Added()
        {
            _bindings.Add(binding);
            PublishRoute();
            Sender.Tell(new BindingAdded(binding));
        }

        if (Durable)
        {
            Persist(new ExchangeBound(binding.Destination, binding.ToExchange, binding.RoutingKey,
                ArgumentCodec.Encode(binding.Arguments)), _ => Added());
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

        void Removed()
        {
            _bindings.RemoveAll(b => b.SameAs(binding));
            PublishRoute();
            Sender.Tell(new BindingRemoved(binding));
            DeleteIfUnused();
        }

        if (Durable)
        {
            Persist(new ExchangeUnbound(binding.Destination, binding.ToExchange, binding.RoutingKey,
                ArgumentCodec.Encode(binding.Arguments)), _ => Removed());
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

        void Removed()
        {
            _bindings.RemoveAll(b => b.Destination == cmd.Destination && b.ToExchange == cmd.ToExchange);
            PublishRoute();
            Sender.Tell(new BindingsRemoved(cmd.Destination));
            DeleteIfUnused();
        }

        if (Durable)
        {
            var events = gone.Select(b => new ExchangeUnbound(b.Destination, b.ToExchange, b.RoutingKey,
                ArgumentCodec.Encode(b.Arguments))).ToList();
            int left = events.Count;
            PersistAll(events, _ =>
            {
                if (--left == 0)
                {
                    Removed();
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

    private void PublishRoute() => _broker.Routes.Publish(new ExchangeRoute(_definition!, _bindings.ToArray()));

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
