namespace Broker.Protocol;

/// <summary>
/// Encodes whole frames into an <see cref="AmqpWriter"/>: a method frame, or a content-bearing
/// method with its header and body frames in one pass, split at the negotiated frame_max.
/// </summary>
public static class FrameWriter
{
    /// <summary>Bytes of a frame that are not payload: type, channel, size, frame-end.</summary>
    public const int FrameOverhead = 8;

    public static readonly byte[] HeartbeatFrame = { FrameConstants.Heartbeat, 0, 0, 0, 0, 0, 0, FrameConstants.End };

    /// <summary>What the broker answers a client that speaks another protocol version, before closing.</summary>
    public static readonly byte[] ProtocolHeader = { (byte)'A', (byte)'M', (byte)'Q', (byte)'P', 0, 0, 9, 1 };

    public static void WriteMethod(AmqpWriter w, ushort channel, Method method)
    {
        w.WriteOctet(FrameConstants.Method);
        w.WriteShort(channel);
        int sizeAt = w.ReserveLong();
        int start = w.Position;
        w.WriteShort(method.ClassId);
        w.WriteShort(method.MethodId);
        method.EncodeArguments(w);
        w.PatchLong(sizeAt, (uint)(w.Position - start));
        w.WriteOctet(FrameConstants.End);
    }

    /// <summary>Writes a content method, its header (raw properties as received) and its body frames.</summary>
    public static void WriteContent(AmqpWriter w, ushort channel, Method method, ReadOnlySpan<byte> rawProperties,
        ReadOnlySpan<byte> body, int frameMax)
    {
        WriteMethod(w, channel, method);

        w.WriteOctet(FrameConstants.Header);
        w.WriteShort(channel);
        w.WriteLong((uint)(12 + rawProperties.Length));
        w.WriteShort(method.ClassId);
        w.WriteShort(0);
        w.WriteLongLong((ulong)body.Length);
        w.WriteBytes(rawProperties);
        w.WriteOctet(FrameConstants.End);

        int maxPayload = (frameMax == 0 ? int.MaxValue : frameMax) - FrameOverhead;
        while (!body.IsEmpty)
        {
            int n = Math.Min(maxPayload, body.Length);
            w.WriteOctet(FrameConstants.Body);
            w.WriteShort(channel);
            w.WriteLong((uint)n);
            w.WriteBytes(body[..n]);
            w.WriteOctet(FrameConstants.End);
            body = body[n..];
        }
    }
}
