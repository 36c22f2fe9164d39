using Broker.Protocol;

namespace Broker.Actors.Queues;

/// <summary>What queue.declare fixes about a queue; a redeclare must match it.</summary>
public sealed record QueueDefinition(
    string VHost, string Name, bool Durable, bool Exclusive, bool AutoDelete, FieldTable Arguments)
{
    public const string QueueTypeArgument = "x-queue-type";

    /// <summary>
    /// Exclusive and non-durable queues keep nothing in the journal, live on the node that declared
    /// them and die with it; the others are journaled, sharded entities that move and fail over.
    /// </summary>
    public bool NodeLocal => !Durable || Exclusive;

    /// <summary>The queue type named by x-queue-type; classic when absent.</summary>
    public string QueueType => Arguments.GetString(QueueTypeArgument) ?? "classic";

    /// <summary>Checks the arguments a declare may carry (RabbitMQ answers 406 otherwise).</summary>
    public void Validate()
    {
        if (Arguments.TryGetValue(QueueTypeArgument, out var t) && FieldValues.AsString(t) is not ("classic" or "quorum"))
        {
            throw AmqpException.PreconditionFailed(
                FieldValues.AsString(t) is { } type
                    ? $"invalid arg '{QueueTypeArgument}' for queue '{Name}' in vhost '{VHost}': \"unsupported queue type '{type}'\""
                    : $"invalid arg '{QueueTypeArgument}' for queue '{Name}' in vhost '{VHost}': {{unacceptable_type,{QueueArguments.ErlangType(t)}}}");
        }

        if (QueueType == "quorum")
        {
            string? bad = !Durable ? "non-durable" : Exclusive ? "exclusive" : AutoDelete ? "auto-delete" : null;
            if (bad is not null)
            {
                throw AmqpException.PreconditionFailed($"invalid property '{bad}' for queue '{Name}' in vhost '{VHost}'");
            }
        }

        QueueArguments.Parse(Arguments, VHost, Name, QueueType);
    }

    /// <summary>Null when a redeclare is equivalent; otherwise RabbitMQ's wording of the difference.</summary>
    public string? Difference(QueueDefinition other)
    {
        if (other.Durable != Durable)
        {
            return Inequivalent("durable", other.Durable, Durable);
        }

        if (other.AutoDelete != AutoDelete)
        {
            return Inequivalent("auto_delete", other.AutoDelete, AutoDelete);
        }

        if (other.QueueType != QueueType)
        {
            return $"inequivalent arg '{QueueTypeArgument}' for queue '{Name}' in vhost '{VHost}': received '{other.QueueType}' but current is '{QueueType}'";
        }

        foreach (var key in EquivalenceKeys)
        {
            Arguments.TryGetValue(key, out var mine);
            other.Arguments.TryGetValue(key, out var theirs);
            if (!SameArgument(mine, theirs))
            {
                bool both = Arguments.ContainsKey(key) && other.Arguments.ContainsKey(key);
                return both
                    ? $"inequivalent arg '{key}' for queue '{Name}' in vhost '{VHost}': received '{Text(theirs)}' but current is '{Text(mine)}'"
                    : $"inequivalent arg '{key}' for queue '{Name}' in vhost '{VHost}': received {Described(theirs, other.Arguments.ContainsKey(key))} but current is {Described(mine, Arguments.ContainsKey(key))}";
            }
        }

        return null;
    }

    /// <summary>
    /// The arguments a redeclare must repeat (RabbitMQ's declare_args): others, unknown ones
    /// included, may differ.
    /// </summary>
    private static readonly string[] EquivalenceKeys =
    {
        "x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key", "x-max-length",
        "x-max-length-bytes", "x-max-in-memory-length", "x-max-in-memory-bytes", "x-max-priority", "x-overflow",
        "x-queue-mode", "x-single-active-consumer", "x-quorum-initial-group-size", "x-max-age",
        "x-stream-max-segment-size-bytes", "x-initial-cluster-size", "x-queue-leader-locator",
    };

    /// <summary>Integers compare by value whatever their width; anything else by type and content.</summary>
    private static bool SameArgument(object? a, object? b) =>
        FieldValues.AsLong(a) is { } x && FieldValues.AsLong(b) is { } y ? x == y : FieldValues.DeepEquals(a, b);

    /// <summary>RabbitMQ's wording for one side of a difference where the other side lacks the argument.</summary>
    private static string Described(object? value, bool present) =>
        !present ? "none" : $"the value '{Text(value)}' of type '{QueueArguments.ErlangType(value)}'";

    private static string Text(object? value) => FieldValues.AsString(value) ?? (value is bool b ? (b ? "true" : "false") : value?.ToString() ?? "");

    private string Inequivalent(string what, bool received, bool current) =>
        $"inequivalent arg '{what}' for queue '{Name}' in vhost '{VHost}': received '{(received ? "true" : "false")}' but current is '{(current ? "true" : "false")}'";
}
