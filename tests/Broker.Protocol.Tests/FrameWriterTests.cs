using System.Buffers.Binary;
using Broker.Protocol.Methods;

namespace Broker.Protocol.Tests;

public class FrameWriterTests
{
    private sealed record RawFrame(byte Type, ushort Channel, byte[] Payload);

    /// <summary>Splits a frame stream by its size fields, checking every frame-end byte.</summary>
    private static List<RawFrame> ParseFrames(ReadOnlySpan<byte> stream)
    {
        var frames = new List<RawFrame>();
        while (!stream.IsEmpty)
        {
            Assert.True(stream.Length >= 8, "dangling bytes after the last frame");
            int size = (int)BinaryPrimitives.ReadUInt32BigEndian(stream[3..]);
            Assert.Equal(FrameConstants.End, stream[7 + size]);
            frames.Add(new RawFrame(stream[0], BinaryPrimitives.ReadUInt16BigEndian(stream[1..]), stream.Slice(7, size).ToArray()));
            stream = stream[(8 + size)..];
        }

        return frames;
    }

    [Theory]
    [InlineData(131072)]
    [InlineData(4096)]
    [InlineData(4097)]
    [InlineData(300 * 1024 + 8)]   // exactly one body frame
    [InlineData(300 * 1024 + 7)]   // one byte too small for a single frame
    public void WriteContentSplitsBodyAtFrameMaxAndDecoderReassemblesIt(int frameMax)
    {
        var body = Wire.Bytes(300 * 1024, 77);
        var props = new BasicProperties { ContentType = "application/x", Headers = new FieldTable { ["n"] = 1 }, Priority = 3 };
        var raw = ContentHeader.EncodeProperties(props);
        var deliver = new BasicDeliver { ConsumerTag = "ctag", DeliveryTag = 42, Redelivered = true, Exchange = "ex", RoutingKey = "rk" };

        var w = new AmqpWriter();
        FrameWriter.WriteContent(w, 9, deliver, raw, body, frameMax);
        var frames = ParseFrames(w.WrittenSpan);

        int maxPayload = frameMax - FrameWriter.FrameOverhead;
        int expectedBodyFrames = (body.Length + maxPayload - 1) / maxPayload;
        Assert.Equal(2 + expectedBodyFrames, frames.Count);
        Assert.All(frames, f => Assert.Equal(9, f.Channel));
        Assert.All(frames, f => Assert.True(f.Payload.Length + FrameWriter.FrameOverhead <= frameMax,
            $"frame of {f.Payload.Length + 8} bytes exceeds frame_max {frameMax}"));

        Assert.Equal(FrameConstants.Method, frames[0].Type);
        Assert.Equal(FrameConstants.Header, frames[1].Type);
        Assert.Equal(Wire.Concat(new byte[] { 0, 60, 0, 0 }, BitConverterBE(300 * 1024), raw), frames[1].Payload);

        var bodyFrames = frames.Skip(2).ToList();
        Assert.All(bodyFrames, f => Assert.Equal(FrameConstants.Body, f.Type));
        Assert.All(bodyFrames.SkipLast(1), f => Assert.Equal(maxPayload, f.Payload.Length)); // every frame but the last is full
        Assert.Equal(body, bodyFrames.SelectMany(f => f.Payload).ToArray());

        // A client-side decoder with the same frame_max accepts and reassembles it byte for byte.
        var d = new FrameDecoder(frameMax, long.MaxValue);
        var events = new List<InboundEvent>();
        d.Feed(FrameWriter.ProtocolHeader, events);
        d.Feed(w.WrittenSpan, events);
        Assert.Equal(2, events.Count);
        var cmd = Assert.IsType<Command>(events[1]);
        Assert.Equal(9, cmd.Channel);
        var decoded = Assert.IsType<BasicDeliver>(cmd.Method);
        Assert.Equal("ctag", decoded.ConsumerTag);
        Assert.Equal(42UL, decoded.DeliveryTag);
        Assert.True(decoded.Redelivered);
        Assert.Equal(raw, cmd.Header!.RawProperties);
        Assert.Equal("application/x", cmd.Header.Properties.ContentType);
        Assert.Equal(body, cmd.Body);
    }

    private static byte[] BitConverterBE(ulong v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, v);
        return b;
    }

    [Fact]
    public void FrameMaxZeroMeansOneBodyFrame()
    {
        var body = Wire.Bytes(300 * 1024);
        var w = new AmqpWriter();
        FrameWriter.WriteContent(w, 1, new BasicPublish(), new byte[] { 0, 0 }, body, 0);
        var frames = ParseFrames(w.WrittenSpan);
        Assert.Equal(3, frames.Count);
        Assert.Equal(body, frames[2].Payload);
    }

    [Fact]
    public void EmptyBodyHasNoBodyFrames()
    {
        var w = new AmqpWriter();
        FrameWriter.WriteContent(w, 1, new BasicPublish { RoutingKey = "r" }, new byte[] { 0, 0 }, ReadOnlySpan<byte>.Empty, 4096);
        var frames = ParseFrames(w.WrittenSpan);
        Assert.Equal(2, frames.Count);
        Assert.Equal(new byte[] { 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, frames[1].Payload);

        var events = Wire.Run(w.ToArray());
        var cmd = Assert.IsType<Command>(Assert.Single(events));
        Assert.Empty(cmd.Body);
        Assert.Equal("r", ((BasicPublish)cmd.Method).RoutingKey);
    }

    [Fact]
    public void ConsecutiveWritesAppendAndResetReuses()
    {
        var w = new AmqpWriter(64);
        FrameWriter.WriteMethod(w, 0, new ConnectionCloseOk());
        Assert.Equal(new byte[] { 1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 51, 0xCE }, w.ToArray());
        FrameWriter.WriteMethod(w, 1, new ChannelCloseOk());
        Assert.Equal(24, w.Position);
        Assert.Equal(new byte[] { 1, 0, 1, 0, 0, 0, 4, 0, 20, 0, 41, 0xCE }, w.WrittenSpan[12..].ToArray());
        w.Reset();
        Assert.Equal(0, w.Position);
        w.WriteBytes(FrameWriter.HeartbeatFrame);
        Assert.Equal(new byte[] { 8, 0, 0, 0, 0, 0, 0, 0xCE }, w.ToArray());
        Assert.Same(HeartbeatReceived.Instance, Assert.Single(Wire.Run(w.ToArray())));
    }

    [Fact]
    public void ProtocolHeaderConstantIsAmqp0091()
    {
        Assert.Equal(new byte[] { 0x41, 0x4D, 0x51, 0x50, 0, 0, 9, 1 }, FrameWriter.ProtocolHeader);
    }

    [Fact]
    public void WriterGrowsFromTinyCapacity()
    {
        var w = new AmqpWriter(1);
        var big = Wire.Bytes(100_000);
        w.WriteLongString(big);
        w.WriteShortString("end");
        Assert.Equal(4 + 100_000 + 4, w.Position);
        var r = new AmqpReader(w.WrittenSpan);
        Assert.Equal(big, r.ReadLongString());
        Assert.Equal("end", r.ReadShortString());
        Assert.Equal(0, r.Remaining);
    }
}
