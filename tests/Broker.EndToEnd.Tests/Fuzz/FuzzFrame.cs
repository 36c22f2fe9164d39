using Broker.Protocol;

namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>
/// One frame as the fuzzer holds it before it goes on the wire. The fields are kept apart, not as
/// bytes, so that a mutation can change exactly one of them (the type, the channel, the declared
/// size, the end octet, the payload) and leave the others valid.
/// </summary>
public sealed class FuzzFrame
{
    public FuzzFrame(byte type, ushort channel, byte[] payload)
    {
        Type = type;
        Channel = channel;
        Payload = payload;
    }

    public byte Type { get; set; }

    public ushort Channel { get; set; }

    public byte[] Payload { get; set; }

    /// <summary>The size written in the frame header when it should lie about the payload; null writes the true size.</summary>
    public uint? DeclaredSize { get; set; }

    public byte End { get; set; } = FrameConstants.End;

    /// <summary>A method frame's class id (0 for other frames or a payload too short to hold one).</summary>
    public ushort ClassId => Type == FrameConstants.Method && Payload.Length >= 2 ? (ushort)(Payload[0] << 8 | Payload[1]) : (ushort)0;

    /// <summary>A method frame's method id.</summary>
    public ushort MethodId => Type == FrameConstants.Method && Payload.Length >= 4 ? (ushort)(Payload[2] << 8 | Payload[3]) : (ushort)0;

    public static FuzzFrame Method(ushort channel, Method method)
    {
        var w = new AmqpWriter(256);
        w.WriteShort(method.ClassId);
        w.WriteShort(method.MethodId);
        method.EncodeArguments(w);
        return new FuzzFrame(FrameConstants.Method, channel, w.ToArray());
    }

    /// <summary>A content header frame for class <paramref name="classId"/> (60 = basic).</summary>
    public static FuzzFrame Header(ushort channel, ulong bodySize, BasicProperties properties, ushort classId = 60)
    {
        var w = new AmqpWriter(128);
        w.WriteShort(classId);
        w.WriteShort(0);
        w.WriteLongLong(bodySize);
        w.WriteBytes(ContentHeader.EncodeProperties(properties));
        return new FuzzFrame(FrameConstants.Header, channel, w.ToArray());
    }

    public static FuzzFrame Body(ushort channel, byte[] bytes) => new(FrameConstants.Body, channel, bytes);

    public static FuzzFrame Heartbeat() => new(FrameConstants.Heartbeat, 0, Array.Empty<byte>());

    public FuzzFrame Clone() => new(Type, Channel, (byte[])Payload.Clone()) { DeclaredSize = DeclaredSize, End = End };

    public void WriteTo(AmqpWriter w)
    {
        w.WriteOctet(Type);
        w.WriteShort(Channel);
        w.WriteLong(DeclaredSize ?? (uint)Payload.Length);
        w.WriteBytes(Payload);
        w.WriteOctet(End);
    }

    public static byte[] Serialize(IEnumerable<FuzzFrame> frames)
    {
        var w = new AmqpWriter(4096);
        foreach (var f in frames)
        {
            f.WriteTo(w);
        }

        return w.ToArray();
    }

    public override string ToString() => Type switch
    {
        FrameConstants.Method => $"method {ClassId}.{MethodId} on {Channel}",
        FrameConstants.Header => $"header on {Channel}",
        FrameConstants.Body => $"body of {Payload.Length} on {Channel}",
        FrameConstants.Heartbeat => $"heartbeat on {Channel}",
        _ => $"type {Type} on {Channel}",
    } + (DeclaredSize is { } d ? $" (size says {d})" : string.Empty) + (End != FrameConstants.End ? $" (end 0x{End:x2})" : string.Empty);
}
