using System.Text;

namespace Broker.Protocol.Tests;

public class FieldTableTests
{
    private static byte[] WriteTable(FieldTable? t)
    {
        var w = new AmqpWriter(8);
        w.WriteTable(t);
        return w.ToArray();
    }

    private static FieldTable ReadTable(byte[] bytes, bool expectAllConsumed = true)
    {
        var r = new AmqpReader(bytes);
        var t = r.ReadTable();
        if (expectAllConsumed)
        {
            Assert.Equal(0, r.Remaining);
        }

        return t;
    }

    private static FieldTable RoundTrip(FieldTable t) => ReadTable(WriteTable(t));

    private static AmqpException ReadFails(byte[] bytes)
    {
        return Assert.Throws<AmqpException>(() =>
        {
            var r = new AmqpReader(bytes);
            r.ReadTable();
        });
    }

    /// <summary>A value of each field type, the CLR type it reads back as, and its value bytes.</summary>
    private static (object? Value, Type? ReadType, byte[] ValueBytes) Sample(char type) => type switch
    {
        't' => (true, typeof(bool), new byte[] { 1 }),
        'b' => ((sbyte)-2, typeof(sbyte), new byte[] { 0xFE }),
        'B' => ((byte)200, typeof(byte), new byte[] { 200 }),
        's' => ((short)-300, typeof(short), new byte[] { 0xFE, 0xD4 }),
        'u' => ((ushort)65000, typeof(ushort), new byte[] { 0xFD, 0xE8 }),
        'I' => (-100000, typeof(int), new byte[] { 0xFF, 0xFE, 0x79, 0x60 }),
        'i' => (4000000000u, typeof(uint), new byte[] { 0xEE, 0x6B, 0x28, 0x00 }),
        'l' => (-5L, typeof(long), new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFB }),
        'f' => (1.5f, typeof(float), new byte[] { 0x3F, 0xC0, 0x00, 0x00 }),
        'd' => (-2.25, typeof(double), new byte[] { 0xC0, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 }),
        'D' => (new AmqpDecimal(2, -12345), typeof(AmqpDecimal), new byte[] { 2, 0xFF, 0xFF, 0xCF, 0xC7 }),
        'S' => (new byte[] { (byte)'h', 0xC3, 0xA9 }, typeof(byte[]), new byte[] { 0, 0, 0, 3, (byte)'h', 0xC3, 0xA9 }),
        'x' => (new ByteArrayValue(new byte[] { 0, 0xCE }), typeof(ByteArrayValue), new byte[] { 0, 0, 0, 2, 0, 0xCE }),
        'A' => (new List<object?> { (byte)1, null }, typeof(List<object?>), new byte[] { 0, 0, 0, 3, (byte)'B', 1, (byte)'V' }),
        'T' => (new AmqpTimestamp(1700000000), typeof(AmqpTimestamp), new byte[] { 0, 0, 0, 0, 0x65, 0x53, 0xF1, 0x00 }),
        'F' => (new FieldTable { ["k"] = false }, typeof(FieldTable), new byte[] { 0, 0, 0, 4, 1, (byte)'k', (byte)'t', 0 }),
        'V' => (null, null, Array.Empty<byte>()),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    [Theory]
    [InlineData('t')]
    [InlineData('b')]
    [InlineData('B')]
    [InlineData('s')]
    [InlineData('u')]
    [InlineData('I')]
    [InlineData('i')]
    [InlineData('l')]
    [InlineData('f')]
    [InlineData('d')]
    [InlineData('D')]
    [InlineData('S')]
    [InlineData('x')]
    [InlineData('A')]
    [InlineData('T')]
    [InlineData('F')]
    [InlineData('V')]
    public void EveryFieldTypeRoundTripsWithExactBytes(char type)
    {
        var (value, readType, valueBytes) = Sample(type);
        var bytes = WriteTable(new FieldTable { ["key"] = value });

        var expected = Wire.Concat(
            new byte[] { 0, 0, 0, (byte)(1 + 3 + 1 + valueBytes.Length), 3, (byte)'k', (byte)'e', (byte)'y', (byte)type },
            valueBytes);
        Assert.Equal(expected, bytes);

        var back = ReadTable(bytes);
        var single = Assert.Single(back);
        Assert.Equal("key", single.Key);
        if (readType is null)
        {
            Assert.Null(single.Value);
        }
        else
        {
            Assert.IsType(readType, single.Value);
            Assert.True(FieldValues.DeepEquals(value, single.Value), $"type {type}: wrote {value}, read {single.Value}");
        }

        // The same value inside an array, and inside an array inside a nested table.
        var nested = new FieldTable { ["a"] = new List<object?> { value, new FieldTable { ["v"] = value } } };
        var nestedBack = RoundTrip(nested);
        var list = Assert.IsType<List<object?>>(nestedBack["a"]);
        Assert.Equal(2, list.Count);
        Assert.True(FieldValues.DeepEquals(value, list[0]));
        Assert.True(FieldValues.DeepEquals(value, Assert.IsType<FieldTable>(list[1])["v"]));
    }

    [Fact]
    public void AllTypesTogetherKeepOrderAndValues()
    {
        var t = new FieldTable();
        foreach (char c in "tbBsuIilfdDSxATFV")
        {
            t["k" + c] = Sample(c).Value;
        }

        var back = RoundTrip(t);
        Assert.Equal(t.Keys, back.Keys);
        Assert.True(FieldValues.TablesEqual(t, back));
    }

    [Fact]
    public void ExtremeNumericValuesRoundTrip()
    {
        var t = new FieldTable
        {
            ["lmin"] = long.MinValue,
            ["lmax"] = long.MaxValue,
            ["imin"] = int.MinValue,
            ["umax"] = uint.MaxValue,
            ["smin"] = short.MinValue,
            ["bmin"] = sbyte.MinValue,
            ["dnan"] = double.NaN,
            ["fneg0"] = -0.0f,
            ["dinf"] = double.NegativeInfinity,
            ["tmax"] = new AmqpTimestamp(ulong.MaxValue),
            ["dec"] = new AmqpDecimal(255, int.MinValue),
        };
        var back = RoundTrip(t);
        Assert.Equal(long.MinValue, back["lmin"]);
        Assert.Equal(long.MaxValue, back["lmax"]);
        Assert.Equal(int.MinValue, back["imin"]);
        Assert.Equal(uint.MaxValue, back["umax"]);
        Assert.Equal(short.MinValue, back["smin"]);
        Assert.Equal(sbyte.MinValue, back["bmin"]);
        Assert.True(double.IsNaN((double)back["dnan"]!));
        Assert.True(float.IsNegative((float)back["fneg0"]!));
        Assert.Equal(double.NegativeInfinity, back["dinf"]);
        Assert.Equal(new AmqpTimestamp(ulong.MaxValue), back["tmax"]);
        Assert.Equal(new AmqpDecimal(255, int.MinValue), back["dec"]);
    }

    [Fact]
    public void ExactBytesForASmallTable()
    {
        var bytes = WriteTable(new FieldTable { ["a"] = 1, ["b"] = "v" });
        Assert.Equal(
            new byte[]
            {
                0, 0, 0, 15,
                1, (byte)'a', (byte)'I', 0, 0, 0, 1,
                1, (byte)'b', (byte)'S', 0, 0, 0, 1, (byte)'v',
            },
            bytes);
    }

    [Fact]
    public void ExactBytesForNestedTablesAndArrays()
    {
        var bytes = WriteTable(new FieldTable
        {
            ["n"] = new FieldTable { ["e"] = new FieldTable() },
            ["l"] = new List<object?> { new List<object?>(), true },
        });
        Assert.Equal(
            new byte[]
            {
                0, 0, 0, 28,
                1, (byte)'n', (byte)'F', 0, 0, 0, 7,
                    1, (byte)'e', (byte)'F', 0, 0, 0, 0,
                1, (byte)'l', (byte)'A', 0, 0, 0, 7,
                    (byte)'A', 0, 0, 0, 0,
                    (byte)'t', 1,
            },
            bytes);
        var back = ReadTable(bytes);
        Assert.Empty(Assert.IsType<FieldTable>(Assert.IsType<FieldTable>(back["n"])["e"]));
        var l = Assert.IsType<List<object?>>(back["l"]);
        Assert.Empty(Assert.IsType<List<object?>>(l[0]));
        Assert.Equal(true, l[1]);
    }

    [Fact]
    public void NullAndEmptyTablesAreFourZeroBytes()
    {
        Assert.Equal(new byte[] { 0, 0, 0, 0 }, WriteTable(null));
        Assert.Equal(new byte[] { 0, 0, 0, 0 }, WriteTable(new FieldTable()));
        Assert.Empty(ReadTable(new byte[] { 0, 0, 0, 0 }));
    }

    [Fact]
    public void WriterMapsStringAndUlongToWireTypes()
    {
        var bytes = WriteTable(new FieldTable { ["s"] = "hé", ["u"] = 7UL });
        Assert.Equal((byte)'S', bytes[6]);
        Assert.Equal((byte)'l', bytes[16]);
        var back = ReadTable(bytes);
        Assert.Equal(Encoding.UTF8.GetBytes("hé"), Assert.IsType<byte[]>(back["s"]));
        Assert.Equal(7L, Assert.IsType<long>(back["u"]));
        Assert.Equal("hé", back.GetString("s"));
        Assert.Null(back.GetString("u"));
        Assert.Null(back.GetString("missing"));
    }

    [Fact]
    public void WriterRejectsUnsupportedValues()
    {
        Assert.Throws<ArgumentException>(() => WriteTable(new FieldTable { ["d"] = DateTime.UnixEpoch }));
        Assert.Throws<ArgumentException>(() => WriteTable(new FieldTable { ["d"] = new Dictionary<string, object?>() }));
    }

    [Fact]
    public void LaterDuplicateKeyWins()
    {
        var bytes = new byte[] { 0, 0, 0, 8, 1, (byte)'k', (byte)'B', 1, 1, (byte)'k', (byte)'B', 2 };
        var t = ReadTable(bytes);
        Assert.Equal((byte)2, Assert.Single(t).Value);
    }

    [Theory]
    [InlineData((byte)'Z')]
    [InlineData((byte)'U')]
    [InlineData((byte)'L')]
    [InlineData((byte)0)]
    [InlineData((byte)0xFF)]
    public void UnknownFieldTypeIsSyntaxError(byte type)
    {
        var ex = ReadFails(new byte[] { 0, 0, 0, 4, 1, (byte)'k', type, 0 });
        Assert.Equal(ReplyCode.SyntaxError, ex.ReplyCode);
        Assert.True(ex.IsConnectionError);

        var inArray = ReadFails(new byte[] { 0, 0, 0, 9, 1, (byte)'k', (byte)'A', 0, 0, 0, 2, type, 0 });
        Assert.Equal(ReplyCode.SyntaxError, inArray.ReplyCode);
    }

    public static IEnumerable<object[]> Truncated() => new[]
    {
        new object[] { "table length past the end", new byte[] { 0, 0, 0, 10, 1, (byte)'k', (byte)'V' } },
        new object[] { "table length missing", new byte[] { 0, 0, 0 } },
        new object[] { "huge table length", new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 1 } },
        new object[] { "key longer than the table", new byte[] { 0, 0, 0, 2, 9, (byte)'k' } },
        new object[] { "value missing", new byte[] { 0, 0, 0, 2, 1, (byte)'k' } },
        new object[] { "int value cut", new byte[] { 0, 0, 0, 5, 1, (byte)'k', (byte)'I', 0, 0 } },
        new object[] { "longstr length past the end", new byte[] { 0, 0, 0, 8, 1, (byte)'k', (byte)'S', 0, 0, 0, 100, 1 } },
        new object[] { "longstr length over int.MaxValue", new byte[] { 0, 0, 0, 8, 1, (byte)'k', (byte)'S', 0xFF, 0xFF, 0xFF, 0xFF, 1 } },
        new object[] { "array length past the end", new byte[] { 0, 0, 0, 8, 1, (byte)'k', (byte)'A', 0, 0, 0, 50, 1 } },
        new object[] { "huge array length", new byte[] { 0, 0, 0, 8, 1, (byte)'k', (byte)'A', 0xFF, 0xFF, 0xFF, 0xFF, 1 } },
        new object[] { "nested table length past the end", new byte[] { 0, 0, 0, 8, 1, (byte)'k', (byte)'F', 0, 0, 0, 9, 1 } },
        // Lengths that fit the buffer but not their container: the entry runs past its table/array.
        new object[] { "entry runs past the table", new byte[] { 0, 0, 0, 4, 1, (byte)'k', (byte)'I', 0, 0, 0, 1 } },
        new object[] { "entry runs past the array", new byte[] { 0, 0, 0, 12, 1, (byte)'k', (byte)'A', 0, 0, 0, 2, (byte)'I', 0, 0, 0, 1 } },
    };

    [Theory]
    [MemberData(nameof(Truncated))]
    public void TruncatedLengthsAreFrameErrors(string what, byte[] bytes)
    {
        var ex = ReadFails(bytes);
        Assert.True(ex.ReplyCode == ReplyCode.FrameError, $"{what}: got {ex.ReplyCode} {ex.ReplyText}");
    }

    [Fact]
    public void EveryPrefixOfAValidTableFails()
    {
        var full = WriteTable(new FieldTable
        {
            ["a"] = new List<object?> { 1, "two", new FieldTable { ["x"] = 3.0 } },
            ["b"] = new AmqpDecimal(1, 2),
        });
        for (int len = 0; len < full.Length; len++)
        {
            var ex = ReadFails(full[..len]);
            Assert.Equal(ReplyCode.FrameError, ex.ReplyCode);
        }

        Assert.Equal(2, ReadTable(full).Count);
    }

    private static byte[] NestedTables(int depth)
    {
        FieldTable inner = new() { ["leaf"] = 1 };
        for (int i = 1; i < depth; i++)
        {
            inner = new FieldTable { ["n"] = inner };
        }

        return WriteTable(inner);
    }

    private static byte[] NestedArrays(int depth)
    {
        object value = new List<object?> { 1 };
        for (int i = 1; i < depth; i++)
        {
            value = new List<object?> { value };
        }

        return WriteTable(new FieldTable { ["a"] = value });
    }

    [Fact]
    public void NestingUpTo64IsAccepted()
    {
        var t = ReadTable(NestedTables(64));
        for (int i = 1; i < 64; i++)
        {
            t = Assert.IsType<FieldTable>(t["n"]);
        }

        Assert.Equal(1, t["leaf"]);
        Assert.Single(ReadTable(NestedArrays(63))); // the table plus 63 arrays
    }

    [Theory]
    [InlineData(65)]
    [InlineData(66)]
    [InlineData(5000)]
    public void NestingDeeperThan64IsRejected(int depth)
    {
        var ex = ReadFails(NestedTables(depth));
        Assert.Equal(ReplyCode.SyntaxError, ex.ReplyCode);
        var ex2 = ReadFails(NestedArrays(depth));
        Assert.Equal(ReplyCode.SyntaxError, ex2.ReplyCode);
    }

    [Fact]
    public void HostileDeepNestingWithoutLengthsFailsCleanly()
    {
        // 100,000 nested 'A' headers whose lengths claim the rest of the buffer: must not overflow the stack.
        const int depth = 100_000;
        var bytes = new byte[4 + 3 + depth * 5];
        int pos = 4;
        bytes[pos++] = 1;
        bytes[pos++] = (byte)'k';
        for (int i = 0; i < depth; i++)
        {
            bytes[pos++] = (byte)'A';
            int rest = bytes.Length - pos - 4;
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(pos), rest);
            pos += 4;
        }

        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes, bytes.Length - 4);
        var ex = ReadFails(bytes);
        Assert.Equal(ReplyCode.SyntaxError, ex.ReplyCode);
    }

    [Fact]
    public void DeepEqualsComparesByContent()
    {
        Assert.True(FieldValues.DeepEquals((byte)5, 5L));
        Assert.False(FieldValues.DeepEquals(5, 6));
        Assert.True(FieldValues.DeepEquals("ab", Encoding.UTF8.GetBytes("ab")));
        Assert.False(FieldValues.DeepEquals("ab", Encoding.UTF8.GetBytes("ac")));
        Assert.False(FieldValues.DeepEquals(true, 1));
        Assert.False(FieldValues.DeepEquals(null, 0));
        Assert.True(FieldValues.DeepEquals(null, null));
        Assert.True(FieldValues.DeepEquals(new ByteArrayValue(new byte[] { 1 }), new ByteArrayValue(new byte[] { 1 })));
        Assert.False(FieldValues.DeepEquals(new ByteArrayValue(new byte[] { 1 }), new ByteArrayValue(new byte[] { 2 })));
        Assert.False(FieldValues.DeepEquals(new List<object?> { 1 }, new List<object?> { 1, 2 }));
        Assert.True(FieldValues.TablesEqual(null, new FieldTable()));
        Assert.False(FieldValues.TablesEqual(new FieldTable { ["a"] = 1 }, new FieldTable { ["b"] = 1 }));
        Assert.False(FieldValues.TablesEqual(new FieldTable { ["a"] = 1 }, new FieldTable { ["a"] = 2 }));
    }
}
