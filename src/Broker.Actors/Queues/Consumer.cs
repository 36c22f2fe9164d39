namespace Broker.Actors.Queues;

/// <summary>A consumer as its queue sees it: where deliveries go and how many it may still take.</summary>
internal sealed class Consumer<TChannel> where TChannel : class
{
    public Consumer(string tag, TChannel channel, bool noAck, bool exclusive, ushort prefetch, int window, int priority = 0)
    {
        Window = window;
        Priority = priority;
        Tag = tag;
        Channel = channel;
        NoAck = noAck;
        Exclusive = exclusive;
        Prefetch = prefetch;
    }

    public string Tag { get; }
    public TChannel Channel { get; }
    public bool NoAck { get; }
    public bool Exclusive { get; }
    public ushort Prefetch { get; set; }

    /// <summary>x-priority of basic.consume: higher ones are served first while they have room.</summary>
    public int Priority { get; }

    /// <summary>Delivered and not yet settled.</summary>
    public int InFlight { get; set; }

    /// <summary>Deliveries pushed to this consumer, in all.</summary>
    public long Delivered { get; set; }

    /// <summary>Of those, how many the channel reported handed to the socket (cumulative DeliveryCredit).</summary>
    public long Credited { get; set; }

    /// <summary>Delivered and not yet handed to the socket.</summary>
    public long Outstanding => Delivered - Credited;

    /// <summary>Deliveries that may be on their way to the socket at once.</summary>
    public int Window { get; }

    public bool HasCredit => Outstanding < Window && (NoAck || Prefetch == 0 || InFlight < Prefetch);
}

/// <summary>A delivered message awaiting ack: which channel holds it and for which consumer (null for basic.get).</summary>
internal readonly record struct Unacked<TChannel>(QueuedMessage Message, TChannel Channel, Consumer<TChannel>? Consumer)
    where TChannel : class;
