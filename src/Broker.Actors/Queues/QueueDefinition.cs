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
                $"invalid arg '{QueueTypeArgument}' for queue '{Name}' in vhost '{VHost}': unsupported queue type '{FieldValues.AsString(t) ?? t?.ToString()}'");
        }

        if (QueueType == "quorum")
        {
            string? bad = !Durable ? "non-durable" : Exclusive ? "exclusive" : AutoDelete ? "auto-delete" : null;
            if (bad is not null)
            {
                throw AmqpException.PreconditionFailed($"invalid property '{bad}' for queue '{Name}' in vhost '{VHost}'");
            }
        }
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

        foreach (var key in Arguments.Keys.Union(other.Arguments.Keys))
        {
            if (key == QueueTypeArgument)
            {
                continue;
            }

            Arguments.TryGetValue(key, out var mine);
            other.Arguments.TryGetValue(key, out var theirs);
            if (!FieldValues.DeepEquals(mine, theirs))
            {
                return $"inequivalent arg '{key}' for queue '{Name}' in vhost '{VHost}'";
            }
        }

        return null;
    }

    private string Inequivalent(string what, bool received, bool current) =>
        $"inequivalent arg '{what}' for queue '{Name}' in vhost '{VHost}': received '{(received ? "true" : "false")}' but current is '{(current ? "true" : "false")}'";
}
