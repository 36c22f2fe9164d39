using System.Buffers.Binary;
using System.Text;

namespace Broker.Protocol;

/// <summary>
/// Writes AMQP wire types into a growable buffer that is reused between uses (Reset), so encoding
/// a stream of frames allocates only when the buffer has to grow.
/// </summary>
public sealed class AmqpWriter
{
    private byte[] _buffer;
    private int _pos;

    public AmqpWriter(int initialCapacity = 4096)
    {
        _buffer = new byte[Math.Max(64, initialCapacity)];
    }

    public int Position => _pos;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _pos);

    public void Reset() => _pos = 0;

    public byte[] ToArray() => _buffer.AsSpan(0, _pos).ToArray();

    private void Ensure(int extra)
    {
        if (_pos + extra > _buffer.Length)
        {
            int size = Math.Max(_buffer.Length * 2, _pos + extra);
            Array.Resize(ref _buffer, size);
        }
    }

    public void WriteOctet(byte value)
    {
        Ensure(1);
        _buffer[_pos++] = value;
    }

    public void WriteShort(ushort value)
    {
        Ensure(2);
        BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(_pos), value);
        _pos += 2;
    }

    public void WriteLong(uint value)
    {
        Ensure(4);
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(_pos), value);
        _pos += 4;
    }

    public void WriteLongLong(ulong value)
    {
        Ensure(8);
        BinaryPrimitives.WriteUInt64BigEndian(_buffer.AsSpan(_pos), value);
        _pos += 8;
    }

    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_pos));
        _pos += bytes.Length;
    }

    /// <summary>Reserves a 32-bit slot to be filled in later with <see cref="PatchLong"/>.</summary>
    public int ReserveLong()
    {
        Ensure(4);
        int at = _pos;
        _pos += 4;
        return at;
    }

    public void PatchLong(int at, uint value) => BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(at), value);

    public void WriteShortString(string value)
    {
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        Ensure(1 + max);
        int len = Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_pos + 1));
        if (len > 255)
        {
            throw AmqpException.SyntaxError($"short string of {len} bytes exceeds 255");
        }

        _buffer[_pos] = (byte)len;
        _pos += 1 + len;
    }

    public void WriteLongString(ReadOnlySpan<byte> value)
    {
        WriteLong((uint)value.Length);
        WriteBytes(value);
    }

    public void WriteTable(FieldTable? table)
    {
        int at = ReserveLong();
        int start = _pos;
        if (table is not null)
        {
            foreach (var (key, value) in table)
            {
                WriteShortString(key);
                WriteFieldValue(value);
            }
        }

        PatchLong(at, (uint)(_pos - start));
    }

    /// <summary>Writes a typed field value; the CLR type picks the AMQP type (see AmqpReader.ReadFieldValue).</summary>
    public void WriteFieldValue(object? value)
    {
        switch (value)
        {
            case null: WriteOctet((byte)'V'); break;
            case bool b: WriteOctet((byte)'t'); WriteOctet(b ? (byte)1 : (byte)0); break;
            case sbyte sb: WriteOctet((byte)'b'); WriteOctet((byte)sb); break;
            case byte ub: WriteOctet((byte)'B'); WriteOctet(ub); break;
            case short s: WriteOctet((byte)'s'); WriteShort((ushort)s); break;
            case ushort us: WriteOctet((byte)'u'); WriteShort(us); break;
            case int i: WriteOctet((byte)'I'); WriteLong((uint)i); break;
            case uint ui: WriteOctet((byte)'i'); WriteLong(ui); break;
            case long l: WriteOctet((byte)'l'); WriteLongLong((ulong)l); break;
            case ulong ul: WriteOctet((byte)'l'); WriteLongLong(ul); break;
            case float f:
                WriteOctet((byte)'f');
                Ensure(4);
                BinaryPrimitives.WriteSingleBigEndian(_buffer.AsSpan(_pos), f);
                _pos += 4;
                break;
            case double d:
                WriteOctet((byte)'d');
                Ensure(8);
                BinaryPrimitives.WriteDoubleBigEndian(_buffer.AsSpan(_pos), d);
                _pos += 8;
                break;
            case AmqpDecimal dec: WriteOctet((byte)'D'); WriteOctet(dec.Scale); WriteLong((uint)dec.Value); break;
            case byte[] bytes: WriteOctet((byte)'S'); WriteLongString(bytes); break;
            case string str: WriteOctet((byte)'S'); WriteLongString(Encoding.UTF8.GetBytes(str)); break;
            case ByteArrayValue x: WriteOctet((byte)'x'); WriteLongString(x.Bytes); break;
            case AmqpTimestamp ts: WriteOctet((byte)'T'); WriteLongLong(ts.UnixSeconds); break;
            case FieldTable t: WriteOctet((byte)'F'); WriteTable(t); break;
            case System.Collections.IDictionary: throw new ArgumentException("use FieldTable for nested tables");
            case System.Collections.IEnumerable list:
                {
                    WriteOctet((byte)'A');
                    int at = ReserveLong();
                    int start = _pos;
                    foreach (var item in list)
                    {
                        WriteFieldValue(item);
                    }

                    PatchLong(at, (uint)(_pos - start));
                    break;
                }

            default:
                throw new ArgumentException($"no AMQP field type for {value.GetType().Name}");
        }
    }
}
