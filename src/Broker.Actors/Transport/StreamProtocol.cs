using Akka.Actor;
using Broker.Protocol;

namespace Broker.Actors.Transport;

// The ack protocol between a connection's inbound stream (Sink.ActorRefWithAck) and its
// ConnectionActor: the stream sends the next batch of commands only after the previous one was
// acknowledged, so a busy broker stops reading the socket and TCP pushes back on the publisher.

public sealed class StreamInit : INoSerializationVerificationNeeded
{
    public static readonly StreamInit Instance = new();
}

public sealed class StreamAck : INoSerializationVerificationNeeded
{
    public static readonly StreamAck Instance = new();
}

public sealed class StreamCompleted : INoSerializationVerificationNeeded
{
    public static readonly StreamCompleted Instance = new();
}

public sealed record StreamFailed(Exception Cause) : INoSerializationVerificationNeeded;

/// <summary>What one socket read decoded to: the stream hands the connection a batch, never a single frame.</summary>
public sealed record InboundBatch(List<InboundEvent> Events) : INoSerializationVerificationNeeded;
