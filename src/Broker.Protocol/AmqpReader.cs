using System.Buffers.Binary;
using System.Text;

namespace Broker.Protocol;

/// <summary>
/// Reads AMQP wire types from a span. Never trusts a length: reading past the end is 501
/// FRAME_ERROR, an unknown field type 502 SYNTAX_ERROR.
/// </summary>
public ref struct AmqpReader
{
    /// <summary>Nesting limit for tables and arrays, so a hostile frame cannot exhaust the stack.</summary>
    private const int MaxDepth = 64;

    private readonly ReadOnlySpan<byte> _data;
    private int _pos;
    private int _depth;

    public AmqpReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _pos = 0;
        _depth = 0;
    }

    public readonly int Remaining => _data.Length - _pos;

    public readonly int Position => _pos;

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > _data.Length - _pos)
        {
            throw AmqpException.FrameError($"truncated field: needed {count} bytes, {_data.Length - _pos} left");
        }

        var slice = _data.Slice(_pos, count);
        _pos += count;
        return slice;
    }

    public byte ReadOctet() => Take(1)[0];

    public ushort ReadShort() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

    public uint ReadLong() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    public ulong ReadLongLong() => BinaryPrimitives.ReadUInt64BigEndian(Take(8));

    public string ReadShortString()
    {
        int len = ReadOctet();
        return len == 0 ? string.Empty : Encoding.UTF8.GetString(Take(len));
    }

    public byte[] ReadLongString()
    {
        uint len = ReadLong();
        if (len > int.MaxValue)
        {
            throw AmqpException.FrameError($"long string length {len} exceeds the frame");
        }

        return len == 0 ? Array.Empty<byte>() : Take((int)len).ToArray();
    }

    public FieldTable ReadTable()
    {
        uint len = ReadLong();
        if (len > (uint)Remaining)
        {
            throw AmqpException.FrameError($"field table length {len} exceeds the {Remaining} bytes left");
        }

        var table = new FieldTable();
        int end = _pos + (int)len;
        Enter();
        while (_pos < end)
        {
            string key = ReadShortString();
            object? value = ReadFieldValue();
            if (_pos > end)
            {
                throw AmqpException.FrameError("field table entry runs past the table's length");
            }

            table[key] = value;
        }

        _depth--;
        return table;
    }

    /// <summary>
    /// Reads one typed field value. Types: t bool, b sbyte, B byte, s short, u ushort, I int,
    /// i uint, l long, f float, d double, D <see cref="AmqpDecimal"/>, S byte[], x
    /// <see cref="ByteArrayValue"/>, A List&lt;object?&gt;, T <see cref="AmqpTimestamp"/>,
    /// F <see cref="FieldTable"/>, V null.
    /// </summary>
    public object? ReadFieldValue()
    {
        byte type = ReadOctet();
        switch ((char)type)
        {
            case 't': return ReadOctet() != 0;
            case 'b': return (sbyte)ReadOctet();
            case 'B': return ReadOctet();
            case 's': return (short)ReadShort();
            case 'u': return ReadShort();
            case 'I': return (int)ReadLong();
            case 'i': return ReadLong();
            case 'l': return (long)ReadLongLong();
            case 'f': return BinaryPrimitives.ReadSingleBigEndian(Take(4));
            case 'd': return BinaryPrimitives.ReadDoubleBigEndian(Take(8));
            case 'D':
                {
                    byte scale = ReadOctet();
                    return new AmqpDecimal(scale, (int)ReadLong());
                }

            case 'S': return ReadLongString();
            case 'x': return new ByteArrayValue(ReadLongString());
            case 'A': return ReadArray();
            case 'T': return new AmqpTimestamp(ReadLongLong());
            case 'F': return ReadTable();
            case 'V': return null;
            default:
                throw AmqpException.SyntaxError($"unknown field value type 0x{type:x2}");
        }
    }

    private List<object?> ReadArray()
    {
        uint len = ReadLong();
        if (len > (uint)Remaining)
        {
            throw AmqpException.FrameError($"field array length {len} exceeds the {Remaining} bytes left");
        }

        var list = new List<object?>();
        int end = _pos + (int)len;
        Enter();
        while (_pos < end)
        {
            list.Add(ReadFieldValue());
        }

        if (_pos != end)
        {
            throw AmqpException.FrameError("field array entry runs past the array's length");
        }

        _depth--;
        return list;
    }

    private void Enter()
    {
        if (++_depth > MaxDepth)
        {
            throw AmqpException.SyntaxError($"field tables nested deeper than {MaxDepth}");
        }
    }
}
