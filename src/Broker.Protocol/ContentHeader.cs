using System.Buffers.Binary;

namespace Broker.Protocol;

/// <summary>
/// A content header frame: class, body size and the basic properties. The raw property bytes
/// (flags + values) are kept so that a delivery re-sends them without encoding them again.
/// </summary>
public sealed class ContentHeader
{
    public ContentHeader(ushort classId, ulong bodySize, BasicProperties properties, byte[] rawProperties)
    {
        ClassId = classId;
        BodySize = bodySize;
        Properties = properties;
        RawProperties = rawProperties;
    }

    public ushort ClassId { get; }
    public ulong BodySize { get; }
    public BasicProperties Properties { get; }

    /// <summary>The property flags and values exactly as they travel on the wire.</summary>
    public byte[] RawProperties { get; }

    /// <summary>Decodes a header frame payload (class-id, weight, body-size, flags, properties).</summary>
    public static ContentHeader Decode(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 14)
        {
            throw AmqpException.FrameError($"content header of {payload.Length} bytes is shorter than 14");
        }

        ushort classId = BinaryPrimitives.ReadUInt16BigEndian(payload);
        ushort weight = BinaryPrimitives.ReadUInt16BigEndian(payload[2..]);
        if (weight != 0)
        {
            throw AmqpException.FrameError($"content header weight must be 0, was {weight}");
        }

        ulong bodySize = BinaryPrimitives.ReadUInt64BigEndian(payload[4..]);
        var raw = payload[12..];
        var reader = new AmqpReader(raw);
        var props = BasicProperties.Decode(ref reader);
        if (reader.Remaining != 0)
        {
            throw AmqpException.FrameError($"{reader.Remaining} trailing bytes after the content header properties");
        }

        return new ContentHeader(classId, bodySize, props, raw.ToArray());
    }

    /// <summary>Decodes properties kept in their raw wire form (flags + values), e.g. from the journal.</summary>
    public static BasicProperties DecodeProperties(byte[] rawProperties)
    {
        var reader = new AmqpReader(rawProperties);
        return BasicProperties.Decode(ref reader);
    }

    /// <summary>Encodes properties into their raw wire form (flags + values).</summary>
    public static byte[] EncodeProperties(BasicProperties properties)
    {
        var w = new AmqpWriter(128);
        properties.Encode(w);
        return w.ToArray();
    }
}
