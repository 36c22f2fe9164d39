using System.Buffers.Binary;
using System.Reflection;
using Broker.Protocol.Methods;

namespace Broker.Protocol.Tests;

public class MethodRoundTripTests
{
    public static IEnumerable<object[]> MethodNames() =>
        MethodDecoder.AllMethods().Select(m => new object[] { m.Name });

    private static Method Create(string name)
    {
        var prototype = MethodDecoder.AllMethods().Single(m => m.Name == name);
        return (Method)Activator.CreateInstance(prototype.GetType())!;
    }

    private static PropertyInfo[] Settable(Method m) =>
        m.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.GetSetMethod() is not null)
            .OrderBy(p => p.MetadataToken)
            .ToArray();

    private static FieldTable SampleTable(int seed) => new()
    {
        ["x-int"] = 42 + seed,
        ["x-str"] = System.Text.Encoding.UTF8.GetBytes($"välue-{seed}"),
        ["x-bool"] = true,
        ["x-nested"] = new FieldTable { ["inner"] = (long)-seed - 1, ["list"] = new List<object?> { (byte)1, null } },
    };

    /// <summary>Sets every argument to a non-default value; bools follow <paramref name="bools"/>.</summary>
    private static void Fill(Method m, Func<int, bool> bools)
    {
        var defaults = (Method)Activator.CreateInstance(m.GetType())!;
        int i = 0, bit = 0;
        foreach (var p in Settable(m))
        {
            i++;
            object value = p.PropertyType switch
            {
                var t when t == typeof(bool) => bools(bit++),
                var t when t == typeof(byte) => (byte)(0xA0 + i),
                var t when t == typeof(ushort) => (ushort)(0xBE00 + i),
                var t when t == typeof(uint) => 0xDEAD0000u + (uint)i,
                var t when t == typeof(ulong) => 0x0123_4567_89AB_0000UL + (ulong)i,
                var t when t == typeof(string) => $"{p.Name}-ü-{i}",
                var t when t == typeof(byte[]) => new byte[] { 0, 0xFF, (byte)i, 0xCE, 0x80 },
                var t when t == typeof(FieldTable) => SampleTable(i),
                var t => throw new InvalidOperationException($"{m.Name}.{p.Name}: unhandled type {t}"),
            };
            p.SetValue(m, value);
            if (p.PropertyType != typeof(bool))
            {
                Assert.False(FieldValues.DeepEquals(p.GetValue(defaults), value),
                    $"{m.Name}.{p.Name} still has its default value");
            }
        }
    }

    private static Method EncodeDecode(Method m, ushort channel)
    {
        var w = new AmqpWriter(16);
        FrameWriter.WriteMethod(w, channel, m);
        var frame = w.WrittenSpan;
        Assert.Equal(FrameConstants.Method, frame[0]);
        Assert.Equal(channel, BinaryPrimitives.ReadUInt16BigEndian(frame[1..]));
        uint size = BinaryPrimitives.ReadUInt32BigEndian(frame[3..]);
        Assert.Equal(frame.Length - FrameWriter.FrameOverhead, (int)size);
        Assert.Equal(FrameConstants.End, frame[^1]);
        Assert.Equal(m.ClassId, BinaryPrimitives.ReadUInt16BigEndian(frame[7..]));
        Assert.Equal(m.MethodId, BinaryPrimitives.ReadUInt16BigEndian(frame[9..]));
        return MethodDecoder.Decode(frame.Slice(7, (int)size));
    }

    private static void AssertSameArguments(Method expected, Method actual)
    {
        Assert.IsType(expected.GetType(), actual);
        Assert.Equal(expected.ClassId, actual.ClassId);
        Assert.Equal(expected.MethodId, actual.MethodId);
        foreach (var p in Settable(expected))
        {
            object? e = p.GetValue(expected), a = p.GetValue(actual);
            Assert.NotNull(a);
            Assert.Equal(e!.GetType(), a!.GetType());
            Assert.True(FieldValues.DeepEquals(e, a), $"{expected.Name}.{p.Name}: sent {e}, decoded {a}");
            if (e is FieldTable te)
            {
                Assert.Equal(te.Keys, ((FieldTable)a).Keys); // wire order preserved
            }
        }
    }

    [Theory]
    [MemberData(nameof(MethodNames))]
    public void RoundTripsWithEveryArgumentSet(string name)
    {
        foreach (Func<int, bool> bools in new Func<int, bool>[] { i => i % 2 == 0, i => i % 2 == 1, _ => true, _ => false })
        {
            var m = Create(name);
            Fill(m, bools);
            AssertSameArguments(m, EncodeDecode(m, 7));
        }
    }

    [Theory]
    [MemberData(nameof(MethodNames))]
    public void RoundTripsWithDefaultArguments(string name)
    {
        var m = Create(name);
        AssertSameArguments(m, EncodeDecode(m, 0));
    }

    [Theory]
    [MemberData(nameof(MethodNames))]
    public void EveryTruncationIsAFrameError(string name)
    {
        var m = Create(name);
        Fill(m, i => i % 2 == 0);
        var payload = Wire.MethodPayload(m);
        for (int len = 0; len < payload.Length; len++)
        {
            var ex = Assert.Throws<AmqpException>(() => MethodDecoder.Decode(payload.AsSpan(0, len)));
            Assert.Equal(ReplyCode.FrameError, ex.ReplyCode);
        }

        var longer = Wire.Concat(payload, new byte[] { 0 });
        var trailing = Assert.Throws<AmqpException>(() => MethodDecoder.Decode(longer));
        Assert.Equal(ReplyCode.FrameError, trailing.ReplyCode);
        Assert.Equal(m.ClassId, trailing.ClassId);
        Assert.Equal(m.MethodId, trailing.MethodId);
    }

    [Fact]
    public void UnknownIdsAreNotImplementedWithTheIds()
    {
        foreach (var (c, mid) in new (ushort, ushort)[] { (10, 99), (99, 10), (60, 41), (0, 0), (0xFFFF, 0xFFFF) })
        {
            var payload = new byte[] { (byte)(c >> 8), (byte)c, (byte)(mid >> 8), (byte)mid };
            var ex = Assert.Throws<AmqpException>(() => MethodDecoder.Decode(payload));
            Assert.Equal(ReplyCode.NotImplemented, ex.ReplyCode);
            Assert.Equal(c, ex.ClassId);
            Assert.Equal(mid, ex.MethodId);
            Assert.True(ex.IsConnectionError);
        }
    }

    private static byte[] Encode(ushort channel, Method m) => Wire.Method(channel, m);

    [Fact]
    public void ConnectionTuneBytes()
    {
        var bytes = Encode(0, new ConnectionTune { ChannelMax = 2047, FrameMax = 131072, Heartbeat = 60 });
        Assert.Equal(
            new byte[]
            {
                0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, // method frame, channel 0, size 12
                0x00, 0x0A, 0x00, 0x1E,                   // class 10, method 30
                0x07, 0xFF,                               // channel-max 2047
                0x00, 0x02, 0x00, 0x00,                   // frame-max 131072
                0x00, 0x3C,                               // heartbeat 60
                0xCE,
            },
            bytes);
    }

    [Fact]
    public void BasicAckMultipleBytes()
    {
        var bytes = Encode(1, new BasicAck { DeliveryTag = 0x0102030405060708, Multiple = true });
        Assert.Equal(
            new byte[]
            {
                0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0D,
                0x00, 0x3C, 0x00, 0x50,
                0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                0x01,
                0xCE,
            },
            bytes);
        var single = Encode(1, new BasicAck { DeliveryTag = 5, Multiple = false });
        Assert.Equal(0x00, single[^2]);
    }

    [Fact]
    public void QueueDeclarePacksItsFiveBitsIntoOneOctet()
    {
        var m = new QueueDeclare { Queue = "q", Durable = true, AutoDelete = true, Nowait = true };
        var bytes = Encode(3, m);
        Assert.Equal(
            new byte[]
            {
                0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x0D,
                0x00, 0x32, 0x00, 0x0A,   // class 50, method 10
                0x00, 0x00,               // ticket
                0x01, (byte)'q',          // queue
                0b0001_1010,              // passive=0 durable=1 exclusive=0 auto-delete=1 no-wait=1
                0x00, 0x00, 0x00, 0x00,   // empty arguments table
                0xCE,
            },
            bytes);

        var allBits = new QueueDeclare { Passive = true, Durable = true, Exclusive = true, AutoDelete = true, Nowait = true };
        Assert.Equal(0b0001_1111, Encode(0, allBits)[14]);
        var decoded = (QueueDeclare)MethodDecoder.Decode(Wire.MethodPayload(new QueueDeclare { Passive = true, Exclusive = true }));
        Assert.True(decoded.Passive);
        Assert.False(decoded.Durable);
        Assert.True(decoded.Exclusive);
        Assert.False(decoded.AutoDelete);
        Assert.False(decoded.Nowait);
    }

    [Fact]
    public void BasicNackBitsShareOneOctet()
    {
        var payload = Wire.MethodPayload(new BasicNack { DeliveryTag = 1, Multiple = false, Requeue = true });
        Assert.Equal(new byte[] { 0x00, 0x3C, 0x00, 0x78, 0, 0, 0, 0, 0, 0, 0, 1, 0b10 }, payload);
    }

    [Fact]
    public void ConnectionCloseBytesUseFailingIds()
    {
        var payload = Wire.MethodPayload(new ConnectionClose
        {
            ReplyCode = 501, ReplyText = "x", FailingClassId = 60, FailingMethodId = 40,
        });
        Assert.Equal(new byte[] { 0, 10, 0, 50, 0x01, 0xF5, 1, (byte)'x', 0, 60, 0, 40 }, payload);
    }

    [Fact]
    public void StartOkCarriesUtf8ShortStringsAndBinaryLongStrings()
    {
        var payload = Wire.MethodPayload(new ConnectionStartOk
        {
            ClientProperties = new FieldTable(),
            Mechanism = "é",
            Response = new byte[] { 0, (byte)'u', 0, (byte)'p' },
            Locale = "",
        });
        Assert.Equal(
            new byte[] { 0, 10, 0, 11, 0, 0, 0, 0, 2, 0xC3, 0xA9, 0, 0, 0, 4, 0, (byte)'u', 0, (byte)'p', 0 },
            payload);
    }

    [Fact]
    public void ShortStringOver255BytesCannotBeEncoded()
    {
        var m = new QueueDeclare { Queue = new string('q', 256) };
        var ex = Assert.Throws<AmqpException>(() => Wire.MethodPayload(m));
        Assert.Equal(ReplyCode.SyntaxError, ex.ReplyCode);

        // 255 bytes, and 2-byte UTF-8 characters counting as two bytes, are checked by byte length
        var ok = (QueueDeclare)MethodDecoder.Decode(Wire.MethodPayload(new QueueDeclare { Queue = new string('q', 255) }));
        Assert.Equal(255, ok.Queue.Length);
        Assert.Throws<AmqpException>(() => Wire.MethodPayload(new QueueDeclare { Queue = new string('é', 128) }));
    }
}
