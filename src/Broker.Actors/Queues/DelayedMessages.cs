using Broker.Protocol;

namespace Broker.Actors.Queues;

/// <summary>
/// Delayed messages (the x-delayed-message exchange type of RabbitMQ's community plugin): a
/// message published with an x-delay header (ms) to such an exchange is held in a hidden queue of
/// the exchange's (durable when the exchange is) until it is due, then routed by the exchange as
/// its x-delayed-type says. Unlike the plugin's store, the hidden queue is an ordinary journaled,
/// sharded queue: durable delayed messages survive restarts and fail over with it.
/// </summary>
public static class DelayedMessages
{
    /// <summary>The internal queue argument naming the exchange a hidden queue holds messages for.</summary>
    public const string QueueArgument = "x-delayed-exchange";

    public const string DelayHeader = "x-delay";

    /// <summary>
    /// The hidden queue of a delayed-message exchange. Clients cannot declare amq.* queues, and the
    /// channel strips QueueArgument from their declares, so no other queue becomes a delay queue.
    /// </summary>
    public static string QueueName(string exchange) => HiddenPrefix + exchange;

    private const string HiddenPrefix = "amq.delayed.";

    /// <summary>
    /// Whether a name is a delay queue's: clients cannot see it (no publish to it through the
    /// default exchange, no consume, get, purge, bind, delete or declare), since releasing a
    /// message from it routes through its exchange without the publisher's permissions on it.
    /// </summary>
    public static bool IsHidden(string queue) => queue.StartsWith(HiddenPrefix, StringComparison.Ordinal);

    /// <summary>The message's delay in ms: its x-delay header when an integer above 0, otherwise none (routed at once).</summary>
    public static long DelayOf(BasicProperties properties) =>
        FieldValues.AsLong(properties.Headers?.GetValueOrDefault(DelayHeader)) is > 0 and var ms ? ms : 0;

    /// <summary>The definition of the hidden queue for an exchange.</summary>
    public static QueueDefinition QueueFor(string vhost, string exchange, bool durable) =>
        new(vhost, QueueName(exchange), durable, Exclusive: false, AutoDelete: false, new FieldTable { [QueueArgument] = exchange });
}
