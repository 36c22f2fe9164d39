namespace Broker.Actors.Stats;

/// <summary>A queue's live numbers on the node that runs it; its QueueActor is the only writer.</summary>
public sealed class QueueStats(string vhost, string name)
{
    public string VHost { get; } = vhost;
    public string Name { get; } = name;
    public readonly MessageCounters Counters = new();
    public int Ready;
    public int Unacked;
    public int Consumers;

    /// <summary>Body bytes of the ready messages (RabbitMQ's message_bytes_ready).</summary>
    public long ReadyBytes;

    /// <summary>When the queue last had something to do (Unix ms), for idle_since.</summary>
    public long LastActive = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
}
