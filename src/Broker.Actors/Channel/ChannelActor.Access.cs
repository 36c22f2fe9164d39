using Broker.Actors.Access;
using Broker.Protocol;

namespace Broker.Actors.Channel;

/// <summary>
/// Permission checks, as RabbitMQ's access-control table has them: configure to declare and
/// delete, write to publish to an exchange and to bind to a destination, read to consume, get,
/// purge and to bind from a source; topic permissions on routing keys of topic exchanges. The
/// answers are cached per channel until the node's access store changes, so a publish pays a
/// dictionary lookup, not a regular expression.
/// </summary>
public sealed partial class ChannelActor
{
    private readonly Dictionary<(AccessKind Kind, bool IsQueue, string Name), bool> _permitted = new();
    private AccessSnapshot? _permittedIn;

    private void RequireAccess(AccessKind kind, bool isQueue, string name)
    {
        if (!Permitted(kind, isQueue, name))
        {
            throw AmqpException.AccessRefused(
                $"access to {(isQueue ? "queue" : "exchange")} '{ResourceName(isQueue, name)}' in vhost '{VHost}' refused for user '{_connection.User}'");
        }
    }

    private bool Permitted(AccessKind kind, bool isQueue, string name)
    {
        var snapshot = _broker.Access.Current;
        if (!ReferenceEquals(snapshot, _permittedIn))
        {
            _permitted.Clear();
            _permittedIn = snapshot;
        }

        var key = (kind, isQueue, name);
        if (!_permitted.TryGetValue(key, out bool allowed))
        {
            allowed = snapshot.Allows(_connection.User, VHost, kind, ResourceName(isQueue, name));
            _permitted[key] = allowed;
        }

        return allowed;
    }

    /// <summary>Topic permissions: only on topic exchanges, and only when the user has some on that exchange.</summary>
    private void RequireTopicAccess(AccessKind kind, Routing.ExchangeDefinition exchange, string routingKey)
    {
        if (exchange.Type != Routing.ExchangeType.Topic)
        {
            return;
        }

        var snapshot = _broker.Access.Current;
        if (snapshot.HasTopicPermissions(_connection.User, VHost, exchange.Name) &&
            !snapshot.AllowsTopic(_connection.User, VHost, exchange.Name, kind, routingKey))
        {
            throw AmqpException.AccessRefused(
                $"access to topic '{routingKey}' in exchange '{exchange.Name}' in vhost '{VHost}' refused for user '{_connection.User}'");
        }
    }

    /// <summary>The default exchange is the resource amq.default, as in RabbitMQ.</summary>
    private static string ResourceName(bool isQueue, string name) => !isQueue && name.Length == 0 ? "amq.default" : name;
}
