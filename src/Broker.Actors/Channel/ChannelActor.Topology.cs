using Akka.Actor;
using Broker.Actors.Access;
using Broker.Actors.Exchanges;
using Broker.Actors.Queues;
using Broker.Actors.Routing;
using Broker.Protocol;
using Broker.Protocol.Methods;

namespace Broker.Actors.Channel;

/// <summary>exchange.* and queue.* methods: checks that need no round trip happen here, the rest in the entities.</summary>
public sealed partial class ChannelActor
{
    private void OnExchangeDeclare(ExchangeDeclare d)
    {
        RequireNotDefaultExchange(d.Exchange);
        var existing = _broker.Routes.Find(VHost, d.Exchange);
        if (d.Passive)
        {
            if (existing is null)
            {
                throw AmqpException.NotFound($"no exchange '{d.Exchange}' in vhost '{VHost}'");
            }

            if (!d.Nowait)
            {
                Emit(new ExchangeDeclareOk());
            }

            return;
        }

        if (!ExchangeType.IsKnown(d.Type))
        {
            throw AmqpException.CommandInvalid($"unknown exchange type '{d.Type}'");
        }

        RequireAccess(AccessKind.Configure, isQueue: false, d.Exchange);
        if (existing is null && d.Exchange.StartsWith("amq.", StringComparison.Ordinal))
        {
            throw AmqpException.AccessRefused($"exchange name '{d.Exchange}' contains reserved prefix 'amq.*'");
        }

        if (existing is null && FieldValues.AsString(d.Arguments.GetValueOrDefault("alternate-exchange")) is { } alternate)
        {
            // A new exchange with an alternate exchange: read on it, write on the alternate (RabbitMQ's order).
            RequireAccess(AccessKind.Read, isQueue: false, d.Exchange);
            RequireAccess(AccessKind.Write, isQueue: false, alternate);
        }

        var definition = new ExchangeDefinition(VHost, d.Exchange, d.Type, d.Durable, d.AutoDelete, d.Internal, d.Arguments);
        definition.Validate();
        Request(() => _broker.TellExchange(VHost, d.Exchange, new DeclareExchange(definition, false), Self), _ =>
        {
            if (d.Type != ExchangeType.DelayedMessage)
            {
                ExchangeDeclared(d);
                return;
            }

            // A delayed-message exchange holds its delayed messages in a hidden queue of its own.
            var hidden = DelayedMessages.QueueFor(VHost, d.Exchange, d.Durable);
            DeclareQueueRequest(hidden, new DeclareQueue(hidden, false, _connection.ConnectionId, _connection.Connection), _ => ExchangeDeclared(d));
        });
    }

    private void ExchangeDeclared(ExchangeDeclare d)
    {
        if (!d.Nowait)
        {
            Emit(new ExchangeDeclareOk());
        }
    }

    private void OnExchangeDelete(ExchangeDelete d)
    {
        RequireNotDefaultExchange(d.Exchange);
        if (d.Exchange.StartsWith("amq.", StringComparison.Ordinal))
        {
            throw AmqpException.AccessRefused($"deletion of system exchange '{d.Exchange}' in vhost '{VHost}' not allowed");
        }

        RequireAccess(AccessKind.Configure, isQueue: false, d.Exchange);

        bool delayed = _broker.Routes.Find(VHost, d.Exchange)?.Definition.Type == ExchangeType.DelayedMessage;
        Request(() => _broker.TellExchange(VHost, d.Exchange, new DeleteExchange(d.IfUnused), Self), _ =>
        {
            // Its delayed messages go with it, as with the plugin.
            string hidden = DelayedMessages.QueueName(d.Exchange);
            if (delayed && _broker.Queues.Find(VHost, hidden) is { Available: true } queue)
            {
                RequestQueue(queue.Ref, hidden, new DeleteQueue(false, false, _connection.ConnectionId), _ => ExchangeDeleted(d));
                return;
            }

            ExchangeDeleted(d);
        });
    }

    private void ExchangeDeleted(ExchangeDelete d)
    {
        if (!d.Nowait)
        {
            Emit(new ExchangeDeleteOk());
        }
    }

    private void OnExchangeBind(string source, string destination, string routingKey, FieldTable args, bool nowait, bool bind)
    {
        RequireBindingAccess(source, destination, isQueue: false, routingKey);
        if (!bind && (_broker.Routes.Find(VHost, source) is null || _broker.Routes.Find(VHost, destination) is null))
        {
            // Unbinding what cannot be bound succeeds, as in RabbitMQ.
            if (!nowait)
            {
                Emit(new ExchangeUnbindOk());
            }

            return;
        }

        RequireExchange(source);
        RequireExchange(destination);
        var binding = new Binding(source, destination, true, routingKey, args);
        bool durable = _broker.Routes.Find(VHost, destination)?.Definition.Durable ?? false;
        SendBinding(binding, bind, durable, () =>
        {
            if (!nowait)
            {
                Emit(bind ? new ExchangeBindOk() : new ExchangeUnbindOk());
            }
        });
    }

    private void OnQueueBind(string queueName, string exchange, string routingKey, FieldTable args, bool nowait, bool bind)
    {
        string queue = ResolveQueueName(queueName);
        RequireBindingAccess(exchange, queue, isQueue: true, routingKey);
        if (!bind && (_broker.Queues.Find(VHost, queue) is null || _broker.Routes.Find(VHost, exchange) is null))
        {
            // Unbinding what cannot be bound succeeds, as in RabbitMQ.
            Emit(new QueueUnbindOk());
            return;
        }

        var queueInfo = FindQueue(queue);
        RequireExchange(exchange);
        var binding = new Binding(exchange, queue, false, routingKey, args);
        bool durable = !queueInfo.NodeLocal;
        SendBinding(binding, bind, durable, () =>
        {
            if (!nowait)
            {
                Emit(bind ? new QueueBindOk() : new QueueUnbindOk());
            }
        });
    }

    /// <summary>
    /// RabbitMQ's checks for (un)binding, in its order: write on the destination, neither end the
    /// default exchange, read on the source, and topic read permission on the key.
    /// </summary>
    private void RequireBindingAccess(string source, string destination, bool isQueue, string routingKey)
    {
        RequireAccess(AccessKind.Write, isQueue, destination);
        if (!isQueue)
        {
            RequireNotDefaultExchange(destination);
        }

        RequireNotDefaultExchange(source);
        RequireAccess(AccessKind.Read, isQueue: false, source);
        if (_broker.Routes.Find(VHost, source) is { } route)
        {
            RequireTopicAccess(AccessKind.Read, route.Definition, routingKey);
        }
    }

    private void SendBinding(Binding binding, bool bind, bool destinationDurable, Action done)
    {
        object request = bind ? new AddBinding(binding, destinationDurable) : new RemoveBinding(binding);
        Request(() => _broker.TellExchange(VHost, binding.Source, request, Self), _ => done());
    }

    private void OnQueueDeclare(QueueDeclare d)
    {
        string name = d.Queue;
        if (name == DirectReplyTo)
        {
            // The pseudo-queue exists for everyone, with one consumer (RabbitMQ answers so, consumer or not).
            if (!d.Nowait)
            {
                Emit(new QueueDeclareOk { Queue = name, MessageCount = 0, ConsumerCount = 1 });
            }

            return;
        }

        if (name.Length == 0 && !d.Passive)
        {
            name = "amq.gen-" + Names.Random();
        }
        else if (name.Length == 0)
        {
            name = ResolveQueueName(name);
        }
        else if (!d.Passive && name.StartsWith("amq.", StringComparison.Ordinal))
        {
            throw AmqpException.AccessRefused($"queue name '{name}' contains reserved prefix 'amq.*'");
        }

        if (!d.Passive)
        {
            RequireNewQueueAccess(name, d.Arguments);
        }

        // The delay-queue argument is the broker's own (DelayedMessages): a client cannot set it.
        d.Arguments.Remove(DelayedMessages.QueueArgument);
        var definition = new QueueDefinition(VHost, name, d.Durable, d.Exclusive, d.AutoDelete, d.Arguments);
        var request = new DeclareQueue(definition, d.Passive, _connection.ConnectionId, _connection.Connection);
        if (d.Passive)
        {
            var queue = FindQueue(name);
            RequestQueue(queue.Ref, name, request, reply => DeclaredQueue(d, (QueueDeclareResult)reply));
            return;
        }

        definition.Validate();
        DeclareQueueRequest(definition, request, reply => DeclaredQueue(d, (QueueDeclareResult)reply));
    }

    /// <summary>
    /// A non-passive declare needs configure on the queue; a new queue must fit the vhost's queue
    /// limit, and one with a dead-letter exchange needs read on itself and write on that exchange.
    /// </summary>
    private void RequireNewQueueAccess(string name, FieldTable arguments)
    {
        RequireAccess(AccessKind.Configure, isQueue: true, name);
        if (_broker.Queues.Find(VHost, name) is not null)
        {
            return;
        }

        if (_broker.Access.Current.FindVHost(VHost) is { MaxQueues: >= 0 } vhost && _broker.Queues.CountIn(VHost) >= vhost.MaxQueues)
        {
            throw AmqpException.PreconditionFailed(VHostLimits.QueueLimitText(VHost, name, vhost.MaxQueues));
        }

        if (FieldValues.AsString(arguments.GetValueOrDefault("x-dead-letter-exchange")) is { } dlx)
        {
            RequireAccess(AccessKind.Read, isQueue: true, name);
            RequireAccess(AccessKind.Write, isQueue: false, dlx);
        }
    }

    /// <summary>Sends a (non-passive) queue declare where the queue lives or will live.</summary>
    private void DeclareQueueRequest(QueueDefinition definition, DeclareQueue request, Action<object> declared)
    {
        string name = definition.Name;
        var existing = _broker.Queues.Find(VHost, name);
        if (existing is { Available: true })
        {
            // It exists somewhere in the cluster: its actor checks the redeclare.
            RequestQueue(existing.Ref, name, request, declared);
        }
        else if (existing is not null || !definition.NodeLocal)
        {
            // Durable queues are sharded entities: the region creates (or recovers) it on its
            // node; one failing over comes back there and checks the redeclare.
            Request(() => _broker.TellQueue(VHost, name, request, Self), declared);
        }
        else
        {
            // Exclusive and non-durable queues live on the declaring connection's node.
            Request(() => _broker.LocalQueues.Tell(new DeclareLocalQueue(VHost, name, request), Self), declared);
        }
    }

    private void DeclaredQueue(QueueDeclare d, QueueDeclareResult result)
    {
        _lastQueue = result.Name;
        if (!d.Nowait)
        {
            Emit(new QueueDeclareOk
            {
                Queue = result.Name,
                MessageCount = result.MessageCount,
                ConsumerCount = result.ConsumerCount,
            });
        }
    }

    private void OnQueuePurge(QueuePurge p)
    {
        string name = ResolveQueueName(p.Queue);
        RequireAccess(AccessKind.Read, isQueue: true, name);
        var queue = FindQueue(name);
        RequestQueue(queue.Ref, queue.Name, new PurgeQueue(_connection.ConnectionId), reply =>
        {
            if (!p.Nowait)
            {
                Emit(new QueuePurgeOk { MessageCount = ((QueuePurged)reply).MessageCount });
            }
        });
    }

    private void OnQueueDelete(QueueDelete d)
    {
        string name = ResolveQueueName(d.Queue);
        RequireAccess(AccessKind.Configure, isQueue: true, name);
        if (_broker.Queues.Find(VHost, name) is null)
        {
            // Deleting a queue that does not exist succeeds, as in RabbitMQ.
            if (!d.Nowait)
            {
                Emit(new QueueDeleteOk { MessageCount = 0 });
            }

            return;
        }

        var request = new DeleteQueue(d.IfUnused, d.IfEmpty, _connection.ConnectionId);
        Action<object> deleted = reply =>
        {
            if (!d.Nowait)
            {
                Emit(new QueueDeleteOk { MessageCount = ((QueueDeleted)reply).MessageCount });
            }
        };
        if (_broker.Queues.Find(VHost, name) is { Available: false })
        {
            // Its node went: the region brings it back on another node, which then deletes it.
            Request(() => _broker.TellQueue(VHost, name, request, Self), deleted);
        }
        else
        {
            var queue = FindQueue(name);
            RequestQueue(queue.Ref, name, request, deleted);
        }
    }

    private void RequireNotDefaultExchange(string exchange)
    {
        if (exchange.Length == 0)
        {
            throw AmqpException.AccessRefused($"operation not permitted on the default exchange");
        }
    }

    private void RequireExchange(string name)
    {
        if (_broker.Routes.Find(VHost, name) is null)
        {
            throw AmqpException.NotFound($"no exchange '{name}' in vhost '{VHost}'");
        }
    }
}
