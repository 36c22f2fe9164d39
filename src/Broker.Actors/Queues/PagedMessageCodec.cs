using System.Buffers.Binary;
using System.Text;

namespace Broker.Actors.Queues;

/// <summary>
/// A queued message as one page-file record: everything the queue knows of it (id, expiry,
/// redelivered flag, return count, exchange, routing key, raw properties and the three decided by,
/// body), so that a paged-out message costs the queue no memory at all. Reading a batch back
/// shares the exchange, routing key and raw properties with the previous record when they are the
/// same, as the channel does for consecutive publishes.
/// Layout (little-endian): id 8, expires-at 8, flags 1 (1 redelivered, 2 has a priority property,
/// 4 has an expiration property), return count 4, delivery-mode 1, priority 1, then
/// length-prefixed exchange (1 byte of length), routing key (1), expiration (1), raw properties (4)
/// and body (4).
/// </summary>
public sealed class PagedMessageCodec
{
    private const byte Redelivered = 1;
    private const byte HasPriority = 2;
    private const byte HasExpiration = 4;

    private byte[] _buffer = new byte[4096];
    private string _exchange = string.Empty;
    private string _routingKey = string.Empty;
    private string _expiration = string.Empty;
    private byte[] _rawProperties = [];

    /// <summary>The record of <paramref name="m"/>, valid until the next call.</summary>
    public ReadOnlySpan<byte> Encode(QueuedMessage m)
    {
        var msg = m.Message;
        int exchange = Encoding.UTF8.GetByteCount(msg.Exchange);
        int routingKey = Encoding.UTF8.GetByteCount(msg.RoutingKey);
        int expiration = msg.Expiration is null ? 0 : Encoding.UTF8.GetByteCount(msg.Expiration);
        int size = 8 + 8 + 1 + 4 + 1 + 1 + 1 + exchange + 1 + routingKey + 1 + expiration + 4 + msg.RawProperties.Length + 4 + msg.Body.Length;
        if (_buffer.Length < size)
        {
            _buffer = new byte[Math.Max(size, _buffer.Length * 2)];
        }

        var span = _buffer.AsSpan();
        BinaryPrimitives.WriteInt64LittleEndian(span, m.Id);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], m.ExpiresAt);
        span[16] = (byte)((m.Redelivered ? Redelivered : 0) | (msg.Priority.HasValue ? HasPriority : 0) | (msg.Expiration is null ? 0 : HasExpiration));
        BinaryPrimitives.WriteInt32LittleEndian(span[17..], m.ReturnCount);
        span[21] = msg.DeliveryMode;
        span[22] = msg.Priority ?? 0;
        int at = 23;
        at = WriteShort(span, at, msg.Exchange, exchange);
        at = WriteShort(span, at, msg.RoutingKey, routingKey);
        at = WriteShort(span, at, msg.Expiration ?? string.Empty, expiration);
        at = WriteLong(span, at, msg.RawProperties);
        at = WriteLong(span, at, msg.Body);
        return span[..at];
    }

    /// <summary>The message a record holds (at priority level 0: queues with priorities do not page).</summary>
    public QueuedMessage Decode(ReadOnlySpan<byte> record)
    {
        long id = BinaryPrimitives.ReadInt64LittleEndian(record);
        long expiresAt = BinaryPrimitives.ReadInt64LittleEndian(record[8..]);
        byte flags = record[16];
        int returnCount = BinaryPrimitives.ReadInt32LittleEndian(record[17..]);
        byte deliveryMode = record[21];
        byte? messagePriority = (flags & HasPriority) != 0 ? record[22] : null;
        int at = 23;
        _exchange = ReadShort(record, ref at, _exchange);
        _routingKey = ReadShort(record, ref at, _routingKey);
        _expiration = ReadShort(record, ref at, _expiration);
        var raw = ReadLong(record, ref at);
        if (!raw.SequenceEqual(_rawProperties))
        {
            _rawProperties = raw.ToArray();
        }

        var body = ReadLong(record, ref at).ToArray();
        var message = new Message(_exchange, _routingKey, _rawProperties, body, deliveryMode, messagePriority,
            (flags & HasExpiration) != 0 ? _expiration : null);
        return new QueuedMessage(id, message, (flags & Redelivered) != 0, 0, expiresAt) { ReturnCount = returnCount };
    }

    private static int WriteShort(Span<byte> span, int at, string value, int length)
    {
        span[at] = (byte)length;
        Encoding.UTF8.GetBytes(value, span[(at + 1)..]);
        return at + 1 + length;
    }

    private static int WriteLong(Span<byte> span, int at, byte[] value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(span[at..], value.Length);
        value.CopyTo(span[(at + 4)..]);
        return at + 4 + value.Length;
    }

    /// <summary>A short string; <paramref name="previous"/> itself when it has the same bytes (no new string).</summary>
    private static string ReadShort(ReadOnlySpan<byte> record, ref int at, string previous)
    {
        int length = record[at];
        var bytes = record.Slice(at + 1, length);
        at += 1 + length;
        // Ascii.Equals is false for any non-ASCII text: such a name is decoded every time.
        return previous.Length == length && Ascii.Equals(bytes, previous) ? previous : Encoding.UTF8.GetString(bytes);
    }

    private static ReadOnlySpan<byte> ReadLong(ReadOnlySpan<byte> record, ref int at)
    {
        int length = BinaryPrimitives.ReadInt32LittleEndian(record[at..]);
        var value = record.Slice(at + 4, length);
        at += 4 + length;
        return value;
    }
}
