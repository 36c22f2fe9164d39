using Broker.Protocol;

namespace Broker.Actors.Queues;

/// <summary>
/// A published message as the queues hold it: immutable and shared by every queue it was routed
/// to. The properties are kept only in their raw wire form (a delivery copies them without
/// encoding), plus the three the queue decides by; the decoded form is built again on the rare
/// paths that need the rest (dead-lettering, delayed messages), so a deep queue does not hold a
/// decoded copy of every message's properties.
/// </summary>
public sealed class Message
{
    public Message(string exchange, string routingKey, ContentHeader header, byte[] body)
        : this(exchange, routingKey, header.Properties, header.RawProperties, body)
    {
    }

    /// <param name="properties">The decoded form of <paramref name="rawProperties"/>; only delivery-mode, priority and expiration are kept from it.</param>
    public Message(string exchange, string routingKey, BasicProperties properties, byte[] rawProperties, byte[] body)
        : this(exchange, routingKey, rawProperties, body, properties.DeliveryMode ?? 0, properties.Priority, properties.Expiration)
    {
    }

    /// <summary>A message read back with the three properties the queue decides by already known (PagedMessageCodec).</summary>
    internal Message(string exchange, string routingKey, byte[] rawProperties, byte[] body, byte deliveryMode, byte? priority, string? expiration)
    {
        Exchange = exchange;
        RoutingKey = routingKey;
        RawProperties = rawProperties;
        Body = body;
        DeliveryMode = deliveryMode;
        Priority = priority;
        Expiration = expiration;
    }

    public string Exchange { get; }
    public string RoutingKey { get; }

    /// <summary>The properties decoded from <see cref="RawProperties"/>, anew on every call: not for the per-message path.</summary>
    public BasicProperties Properties => ContentHeader.DecodeProperties(RawProperties);

    public byte[] RawProperties { get; }

    public byte[] Body { get; }

    public int BodySize => Body.Length;

    /// <summary>The delivery-mode property (0 when absent).</summary>
    public byte DeliveryMode { get; }

    /// <summary>The priority property, if set.</summary>
    public byte? Priority { get; }

    /// <summary>The expiration property (per-message TTL in ms, as text), if set.</summary>
    public string? Expiration { get; }

    /// <summary>delivery-mode 2: the message survives a restart when its queue is durable.</summary>
    public bool Persistent => DeliveryMode == 2;

    /// <summary>The same message as published to another exchange (a delayed message released through its own).</summary>
    public Message WithExchange(string exchange) => new(exchange, RoutingKey, RawProperties, Body, DeliveryMode, Priority, Expiration);

    /// <summary>A copy with one header set (the original is shared by other queues and stays as it is).</summary>
    public Message WithHeader(string key, object? value) => WithProperties(p => (p.Headers ??= new FieldTable())[key] = value);

    /// <summary>A copy whose properties <paramref name="change"/> edited, re-encoded once.</summary>
    public Message WithProperties(Action<BasicProperties> change)
    {
        var properties = Properties;
        change(properties);
        return new Message(Exchange, RoutingKey, properties, ContentHeader.EncodeProperties(properties), Body);
    }
}

/// <summary>
/// A message's place in one queue: its id there, its priority level, when it expires and how
/// often it came back unsettled. Mutable only by its queue's QueueState.
/// </summary>
public sealed class QueuedMessage
{
    public QueuedMessage(long id, Message message, bool redelivered = false, byte priority = 0, long expiresAt = 0)
    {
        Id = id;
        Message = message;
        Redelivered = redelivered;
        Priority = priority;
        ExpiresAt = expiresAt;
    }

    public long Id { get; }

    /// <summary>Replaced only when the queue rewrites its headers (x-delivery-count on a return).</summary>
    public Message Message { get; internal set; }

    public bool Redelivered { get; set; }

    /// <summary>Priority level in this queue (0 unless the queue has x-max-priority).</summary>
    public byte Priority { get; }

    /// <summary>Unix time in ms after which the message is dead (0: never). Fixed at publish, journaled.</summary>
    public long ExpiresAt { get; }

    /// <summary>How often the message was handed out and came back (requeued, or its channel went).</summary>
    public int ReturnCount { get; set; }

    /// <summary>What x-max-length-bytes counts: the body only, as in RabbitMQ.</summary>
    public int Size => Message.BodySize;
}
