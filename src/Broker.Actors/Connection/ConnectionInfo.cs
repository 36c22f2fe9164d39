using Akka.Actor;

namespace Broker.Actors.Connection;

/// <summary>What a channel needs to know about its connection once the handshake is done.</summary>
public sealed record ConnectionInfo(
    string ConnectionId,
    IActorRef Connection,
    string VHost,
    string User,
    int FrameMax,
    bool ConsumerCancelNotify,
    Stats.ConnectionStats? Stats = null);

/// <summary>A channel hit a connection-level (hard) error: the connection closes with it.</summary>
public sealed record ConnectionError(Protocol.AmqpException Error) : INoSerializationVerificationNeeded;

/// <summary>A channel finished closing (close-ok exchanged): its number is free again.</summary>
public sealed record ChannelFinished(ushort Number) : INoSerializationVerificationNeeded;

/// <summary>
/// A channel ran out of publish credit at some queue (Blocked) or got it back: while any channel
/// is blocked the connection stops reading its socket, so TCP pushes back on the publisher.
/// </summary>
public sealed record ChannelPublishFlow(bool Blocked) : INoSerializationVerificationNeeded;

/// <summary>
/// The client closed the connection: a channel answers what it was asked before (a request to a
/// queue in flight, commands it held) and then stops; the connection sends close-ok once all have.
/// </summary>
public sealed class ConnectionClosing : INoSerializationVerificationNeeded
{
    public static readonly ConnectionClosing Instance = new();

    private ConnectionClosing()
    {
    }
}

/// <summary>Asks a connection to close with 320 CONNECTION_FORCED (node shutdown).</summary>
public sealed record ForceClose(string Reason) : INoSerializationVerificationNeeded;
