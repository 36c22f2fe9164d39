using Broker.Protocol;

namespace Broker.Actors.Routing;

/// <summary>What exchange.declare fixes about an exchange; a redeclare must match it (else 406).</summary>
public sealed record ExchangeDefinition(
    string VHost, string Name, string Type, bool Durable, bool AutoDelete, bool Internal, FieldTable Arguments)
{
    /// <summary>The names of the pre-declared exchanges every vhost has.</summary>
    public static readonly IReadOnlyList<(string Name, string Type)> BuiltIn = new[]
    {
        ("amq.direct", ExchangeType.Direct),
        ("amq.fanout", ExchangeType.Fanout),
        ("amq.topic", ExchangeType.Topic),
        ("amq.headers", ExchangeType.Headers),
        ("amq.match", ExchangeType.Headers),
    };

    /// <summary>Null when equivalent; otherwise the property that differs, worded as RabbitMQ does.</summary>
    public string? Difference(string type, bool durable, bool autoDelete, bool @internal, FieldTable arguments)
    {
        if (type != Type)
        {
            return $"inequivalent arg 'type' for exchange '{Name}' in vhost '{VHost}': received '{type}' but current is '{Type}'";
        }

        if (durable != Durable)
        {
            return $"inequivalent arg 'durable' for exchange '{Name}' in vhost '{VHost}': received '{Bool(durable)}' but current is '{Bool(Durable)}'";
        }

        if (autoDelete != AutoDelete)
        {
            return $"inequivalent arg 'auto_delete' for exchange '{Name}' in vhost '{VHost}': received '{Bool(autoDelete)}' but current is '{Bool(AutoDelete)}'";
        }

        if (@internal != Internal)
        {
            return $"inequivalent arg 'internal' for exchange '{Name}' in vhost '{VHost}': received '{Bool(@internal)}' but current is '{Bool(Internal)}'";
        }

        if (!FieldValues.TablesEqual(arguments, Arguments))
        {
            return $"inequivalent arg 'arguments' for exchange '{Name}' in vhost '{VHost}'";
        }

        return null;
    }

    private static string Bool(bool b) => b ? "true" : "false";
}
