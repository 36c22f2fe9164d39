using Broker.Protocol;

namespace Broker.Actors.Queues;

/// <summary>
/// The copy of a message that dead-lettering publishes, as RabbitMQ makes it
/// (rabbit_dead_letter:make_msg): an x-death entry per (queue, reason) with count, reason, queue,
/// time, exchange and routing-keys, newest first, whose count goes up when the message dies the
/// same way again; x-first-death-* set when x-first-death-reason is absent; the expiration property moved into the entry as
/// original-expiration. Every other header keeps its value and field type.
/// </summary>
public static class DeadLetterHeaders
{
    public static string ReasonText(DeathReason reason) => reason switch
    {
        DeathReason.Rejected => "rejected",
        DeathReason.Expired => "expired",
        DeathReason.MaxLength => "maxlen",
        _ => "delivery_limit",
    };

    /// <summary>The dead-lettered copy, published to <paramref name="deadLetterExchange"/> with <paramref name="routingKey"/>.</summary>
    public static Message Mark(Message message, DeathReason reason, string queue, long unixSeconds, string deadLetterExchange, string routingKey)
    {
        var properties = ContentHeader.DecodeProperties(message.RawProperties);
        var headers = properties.Headers ??= new FieldTable();
        string reasonText = ReasonText(reason);
        var entry = new FieldTable
        {
            ["count"] = 1L,
            ["reason"] = reasonText,
            ["queue"] = queue,
            ["time"] = new AmqpTimestamp((ulong)unixSeconds),
            ["exchange"] = message.Exchange,
            ["routing-keys"] = new List<object?> { message.RoutingKey },
        };
        if (properties.Expiration is { } expiration)
        {
            entry["original-expiration"] = expiration;
            properties.Expiration = null;
        }

        if (headers.TryGetValue("x-death", out var existing) && existing is List<object?> deaths)
        {
            int match = deaths.FindIndex(d => d is FieldTable t && Text(t, "queue") == queue && Text(t, "reason") == reasonText);
            var updated = new List<object?>(deaths.Count + 1);
            if (match >= 0)
            {
                // The same death again: its entry counts it and moves to the front; the rest of it stays.
                var again = new FieldTable((FieldTable)deaths[match]!);
                again["count"] = (FieldValues.AsLong(again.GetValueOrDefault("count")) ?? 0) + 1;
                updated.Add(Sorted(again));
            }
            else
            {
                updated.Add(Sorted(entry));
            }

            for (int i = 0; i < deaths.Count; i++)
            {
                if (i != match)
                {
                    updated.Add(deaths[i]);
                }
            }

            headers["x-death"] = updated;
        }
        else
        {
            headers["x-death"] = new List<object?> { entry };
        }

        if (!headers.ContainsKey("x-first-death-reason"))
        {
            headers["x-first-death-reason"] = reasonText;
            headers["x-first-death-queue"] = queue;
            headers["x-first-death-exchange"] = message.Exchange;
        }

        return new Message(deadLetterExchange, routingKey, properties, ContentHeader.EncodeProperties(properties), message.Body);
    }

    /// <summary>
    /// True when dead-lettering this (already marked) message to <paramref name="targetQueue"/> would
    /// go round a cycle with no rejection in it: RabbitMQ drops it for that queue rather than loop forever.
    /// </summary>
    public static bool IsCycle(Message marked, string targetQueue)
    {
        if (marked.Properties.Headers?.GetValueOrDefault("x-death") is not List<object?> deaths)
        {
            return false;
        }

        int at = deaths.FindIndex(d => d is FieldTable t && Text(t, "queue") == targetQueue);
        if (at < 0)
        {
            return false;
        }

        for (int i = 0; i <= at; i++)
        {
            if (deaths[i] is not FieldTable t || Text(t, "reason") == "rejected")
            {
                return false;
            }
        }

        return true;
    }

    private static string? Text(FieldTable t, string key) => FieldValues.AsString(t.GetValueOrDefault(key));

    /// <summary>RabbitMQ sorts an entry's fields by name when it rewrites the list.</summary>
    private static FieldTable Sorted(FieldTable t)
    {
        var sorted = new FieldTable();
        foreach (var key in t.Keys.OrderBy(k => k, StringComparer.Ordinal))
        {
            sorted[key] = t[key];
        }

        return sorted;
    }
}
