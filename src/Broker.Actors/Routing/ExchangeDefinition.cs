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

    public const string AlternateExchangeArgument = "alternate-exchange";

    public const string DelayedTypeArgument = "x-delayed-type";

    /// <summary>How it matches bindings: its type, or for a delayed-message exchange its x-delayed-type.</summary>
    public string RoutingType => Type == ExchangeType.DelayedMessage ? Arguments.GetString(DelayedTypeArgument) ?? ExchangeType.Direct : Type;

    /// <summary>The exchange unroutable messages go to instead (the alternate-exchange argument), if any.</summary>
    public string? AlternateExchange => Arguments.GetString(AlternateExchangeArgument);

    /// <summary>Checks the arguments a declare may carry (RabbitMQ answers 406 otherwise).</summary>
    public void Validate()
    {
        if (Type == ExchangeType.DelayedMessage && !(Arguments.GetString(DelayedTypeArgument) is { } t && ExchangeType.IsRouting(t)))
        {
            // The plugin's wording.
            throw AmqpException.PreconditionFailed($"Invalid argument, '{DelayedTypeArgument}' must be an existing exchange type");
        }

        if (Arguments.TryGetValue(AlternateExchangeArgument, out var ae) && ae is not (string or byte[]))
        {
            throw AmqpException.PreconditionFailed(
                $"invalid type '{Queues.QueueArguments.ErlangType(ae)}' for arg '{AlternateExchangeArgument}' in exchange '{Name}' in vhost '{VHost}'");
        }
    }

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

        // Of the arguments, RabbitMQ compares only alternate-exchange; the others may differ.
        arguments.TryGetValue(AlternateExchangeArgument, out var received);
        Arguments.TryGetValue(AlternateExchangeArgument, out var current);
        if (!FieldValues.DeepEquals(received, current))
        {
            string Side(object? v, FieldTable t) => !t.ContainsKey(AlternateExchangeArgument) ? "none"
                : $"the value '{FieldValues.AsString(v)}' of type '{Queues.QueueArguments.ErlangType(v)}'";
            return arguments.ContainsKey(AlternateExchangeArgument) && Arguments.ContainsKey(AlternateExchangeArgument)
                ? $"inequivalent arg '{AlternateExchangeArgument}' for exchange '{Name}' in vhost '{VHost}': received '{FieldValues.AsString(received)}' but current is '{FieldValues.AsString(current)}'"
                : $"inequivalent arg '{AlternateExchangeArgument}' for exchange '{Name}' in vhost '{VHost}': received {Side(received, arguments)} but current is {Side(current, Arguments)}";
        }

        return null;
    }

    private static string Bool(bool b) => b ? "true" : "false";
}
