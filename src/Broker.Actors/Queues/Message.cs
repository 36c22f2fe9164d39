using Broker.Protocol;

namespace Broker.Actors.Queues;

/// <summary>
/// A published message as the queues hold it: immutable and shared by every queue it was routed
/// to. The properties travel in their raw wire form so a delivery copies them without encoding.
/// </summary>
public sealed class Message
{
    public Message(string exchange, string routingKey, ContentHeader header, byte[] body)
        : this(exchange, routingKey, header.Properties, header.RawProperties, body)
    {
    }

    public Message(string exchange, string routingKey, BasicProperties properties, byte[] rawProperties, byte[] body)
    {
        Exchange = exchange;
        RoutingKey = routingKey;
        Properties = properties;
        RawProperties = rawProperties;
        Body = body;
    }

    public string Exchange { get; }
    public string RoutingKey { get; }
    public BasicProperties Properties { get; }
    public byte[] RawProperties { get; }
    public byte[] Body { get; }

    /// <summary>delivery-mode 2: the message survives a restart when its queue is durable.</summary>
    public bool Persistent => Properties.DeliveryMode == 2;
}

/// <summary>A message's place in one queue: its id there and whether it was delivered before.</summary>
public sealed class QueuedMessage
{
    public QueuedMessage(long id, Message message, bool redelivered = false)
    {
        Id = id;
        Message = message;
        Redelivered = redelivered;
    }

    public long Id { get; }
    public Message Message { get; }
    public bool Redelivered { get; set; }
}
