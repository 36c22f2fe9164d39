namespace Broker.Actors.Transport;

// The ack protocol between a connection's inbound stream (Sink.ActorRefWithAck) and its
// ConnectionActor: the stream sends the next batch of commands only after the previous one was
// acknowledged, so a busy broker stops reading the socket and TCP pushes back on the publisher.

public sealed class StreamInit
{
    public static readonly StreamInit Instance = new();
}

public sealed class StreamAck
{
    public static readonly StreamAck Instance = new();
}

public sealed class StreamCompleted
{
    public static readonly StreamCompleted Instance = new();
}

public sealed record StreamFailed(Exception Cause);
