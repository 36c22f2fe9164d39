using System.Buffers.Binary;
using System.Reflection;

namespace Broker.Protocol.Tests;

public class BasicPropertiesTests
{
    /// <summary>Property name, flag bit, and a non-default value; in spec order.</summary>
    public static readonly (string Name, ushort Flag, object Value)[] All =
    {
        ("ContentType", 0x8000, "application/json"),
        ("ContentEncoding", 0x4000, "gzip"),
        ("Headers", 0x2000, new FieldTable { ["x-h"] = 1, ["s"] = new byte[] { 1, 2 }, ["n"] = new FieldTable { ["b"] = true } }),
        ("DeliveryMode", 0x1000, (byte)2),
        ("Priority", 0x0800, (byte)9),
        ("CorrelationId", 0x0400, "corr-ü"),
        ("ReplyTo", 0x0200, "amq.rabbitmq.reply-to"),
        ("Expiration", 0x0100, "60000"),
        ("MessageId", 0x0080, "msg-1"),
        ("Timestamp", 0x0040, 0x0000_0000_6553_F100UL),
        ("Type", 0x0020, "order.created"),
        ("UserId", 0x0010, "guest"),
        ("AppId", 0x0008, "app"),
        ("ClusterId", 0x0004, "cluster"),
    };

    public static IEnumerable<object[]> PropertyNames() => All.Select(p => new object[] { p.Name });

    private static PropertyInfo Prop(string name) => typeof(BasicProperties).GetProperty(name)!;

    private static ContentHeader DecodeHeader(BasicProperties props, ulong bodySize = 12345) =>
        ContentHeader.Decode(Wire.HeaderPayload(60, bodySize, props));

    private static void AssertEqualValue(string name, object? expected, object? actual)
    {
        Assert.True(FieldValues.DeepEquals(expected, actual), $"{name}: expected {expected}, got {actual}");
        if (expected is not null)
        {
            Assert.IsType(expected.GetType(), actual);
        }
    }

    [Fact]
    public void AllFourteenPropertiesRoundTrip()
    {
        Assert.Equal(14, All.Length);
        var props = new BasicProperties();
        foreach (var (name, _, value) in All)
        {
            Prop(name).SetValue(props, value);
        }

        var encoded = ContentHeader.EncodeProperties(props);
        Assert.Equal(0xFFFC, BinaryPrimitives.ReadUInt16BigEndian(encoded));

        var header = DecodeHeader(props, ulong.MaxValue);
        Assert.Equal(60, header.ClassId);
        Assert.Equal(ulong.MaxValue, header.BodySize);
        Assert.Equal(encoded, header.RawProperties);
        foreach (var (name, _, value) in All)
        {
            AssertEqualValue(name, value, Prop(name).GetValue(header.Properties));
        }

        Assert.Equal(((FieldTable)All[2].Value).Keys, header.Properties.Headers!.Keys);
    }

    [Theory]
    [MemberData(nameof(PropertyNames))]
    public void EachPropertyAloneSetsOnlyItsFlag(string name)
    {
        var (_, flag, value) = All.Single(p => p.Name == name);
        var props = new BasicProperties();
        Prop(name).SetValue(props, value);

        var encoded = ContentHeader.EncodeProperties(props);
        Assert.Equal(flag, BinaryPrimitives.ReadUInt16BigEndian(encoded));

        var decoded = DecodeHeader(props).Properties;
        foreach (var (other, _, _) in All)
        {
            var actual = Prop(other).GetValue(decoded);
            if (other == name)
            {
                AssertEqualValue(name, value, actual);
            }
            else
            {
                Assert.True(actual is null, $"{other} should be absent when only {name} is set, was {actual}");
            }
        }
    }

    [Fact]
    public void NoPropertiesIsTwoZeroBytesAndAllNull()
    {
        var payload = Wire.HeaderPayload(60, 0, new BasicProperties());
        Assert.Equal(new byte[] { 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, payload);
        var header = ContentHeader.Decode(payload);
        Assert.Equal(0UL, header.BodySize);
        Assert.Equal(new byte[] { 0, 0 }, header.RawProperties);
        foreach (var (name, _, _) in All)
        {
            Assert.Null(Prop(name).GetValue(header.Properties));
        }
    }

    [Fact]
    public void EmptyValuesArePresentNotAbsent()
    {
        var props = new BasicProperties { ContentType = "", Headers = new FieldTable(), DeliveryMode = 0, Timestamp = 0 };
        var encoded = ContentHeader.EncodeProperties(props);
        Assert.Equal(
            new byte[] { 0xB0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
            encoded);
        var back = DecodeHeader(props).Properties;
        Assert.Equal("", back.ContentType);
        Assert.Empty(back.Headers!);
        Assert.Equal((byte)0, back.DeliveryMode);
        Assert.Equal(0UL, back.Timestamp);
        Assert.Null(back.Priority);
    }

    [Fact]
    public void ExactBytesForTwoProperties()
    {
        var payload = Wire.HeaderPayload(60, 5, new BasicProperties { ContentType = "t/p", DeliveryMode = 2 });
        Assert.Equal(
            new byte[]
            {
                0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5,
                0x90, 0x00,
                3, (byte)'t', (byte)'/', (byte)'p',
                2,
            },
            payload);
    }

    [Theory]
    [InlineData(0x0001)]
    [InlineData(0x8001)]
    [InlineData(0xFFFF)]
    public void FlagsContinuationBitIsFrameError(int flags)
    {
        var payload = new byte[] { 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte)(flags >> 8), (byte)flags };
        var ex = Assert.Throws<AmqpException>(() => ContentHeader.Decode(payload));
        Assert.Equal(ReplyCode.FrameError, ex.ReplyCode);
    }

    [Fact]
    public void MalformedHeadersAreFrameErrors()
    {
        var valid = Wire.HeaderPayload(60, 3, new BasicProperties { ContentType = "abc", Headers = new FieldTable { ["k"] = 1 } });
        for (int len = 0; len < valid.Length; len++)
        {
            var ex = Assert.Throws<AmqpException>(() => ContentHeader.Decode(valid.AsSpan(0, len)));
            Assert.Equal(ReplyCode.FrameError, ex.ReplyCode);
        }

        var trailing = Assert.Throws<AmqpException>(() => ContentHeader.Decode(Wire.Concat(valid, new byte[] { 0 })));
        Assert.Equal(ReplyCode.FrameError, trailing.ReplyCode);

        var weighted = Assert.Throws<AmqpException>(() => ContentHeader.Decode(Wire.HeaderPayload(60, 3, null, weight: 1)));
        Assert.Equal(ReplyCode.FrameError, weighted.ReplyCode);
    }

    [Fact]
    public void DecodedHeaderKeepsClassAndSize()
    {
        var h = ContentHeader.Decode(Wire.HeaderPayload(0x1234, 0x0102030405060708, new BasicProperties { Priority = 1 }));
        Assert.Equal(0x1234, h.ClassId);
        Assert.Equal(0x0102030405060708UL, h.BodySize);
        Assert.Equal((byte)1, h.Properties.Priority);
        Assert.Equal(new byte[] { 0x08, 0x00, 1 }, h.RawProperties);
    }
}
