using Broker.Protocol.Methods;
using static Broker.Protocol.Tests.Wire;

namespace Broker.Protocol.Tests;

public class FrameDecoderTests
{
    private static readonly byte[] ChannelOpen1 = Method(1, new ChannelOpen());

    // ---- protocol header -------------------------------------------------------------------

    [Fact]
    public void ProtocolHeaderIsAccepted()
    {
        var d = NewDecoder();
        var events = Feed(d, FrameWriter.ProtocolHeader);
        Assert.Same(ProtocolHeaderReceived.Accepted, Assert.Single(events));
        Assert.True(ProtocolHeaderReceived.Accepted.IsAccepted);

        var next = Feed(d, Method(0, new ConnectionStartOk()));
        Assert.IsType<ConnectionStartOk>(Assert.IsType<Command>(Assert.Single(next)).Method);
    }

    [Fact]
    public void ProtocolHeaderByteByByteIsAcceptedOnlyWhenComplete()
    {
        var d = NewDecoder();
        for (int i = 0; i < 7; i++)
        {
            Assert.Empty(Feed(d, new[] { FrameWriter.ProtocolHeader[i] }));
        }

        Assert.Same(ProtocolHeaderReceived.Accepted, Assert.Single(Feed(d, new[] { FrameWriter.ProtocolHeader[7] })));
    }

    [Fact]
    public void ProtocolHeaderAndFramesInOneChunk()
    {
        var events = Feed(NewDecoder(), Concat(FrameWriter.ProtocolHeader, Method(0, new ConnectionStartOk()), Heartbeat()));
        Assert.Equal(new[] { "header:accepted", "command", "heartbeat" }, events.Select(e => Describe(e).Split(' ')[0]));
    }

    [Theory]
    [InlineData("AMQP\x00\x00\x09\x00")]
    [InlineData("AMQP\x00\x00\x08\x00")]
    [InlineData("AMQP\x01\x01\x00\x09")]
    [InlineData("AMQP\x00\x01\x00\x00")]
    [InlineData("HTTP/1.1")]
    [InlineData("GET / HTTP/1.1\r\n\r\n")]
    [InlineData("amqp\x00\x00\x09\x01")]
    [InlineData("\x01\x00\x00\x00\x00\x00\x04")]
    [InlineData("A")]
    public void WrongProtocolHeaderIsRejectedAndNothingFollows(string header)
    {
        var bad = Ascii(header);
        foreach (int chunk in new[] { bad.Length, 1 })
        {
            var d = NewDecoder();
            var events = new List<InboundEvent>();
            var stream = Concat(bad, Method(0, new ConnectionStartOk()), Heartbeat());
            if (header == "A")
            {
                stream = Ascii("AB"); // only the second byte is wrong
            }

            for (int i = 0; i < stream.Length; i += chunk)
            {
                d.Feed(stream.AsSpan(i, Math.Min(chunk, stream.Length - i)), events);
            }

            d.Feed(Concat(FrameWriter.ProtocolHeader, Heartbeat()), events);
            Assert.Same(ProtocolHeaderReceived.Rejected, Assert.Single(events));
            Assert.False(ProtocolHeaderReceived.Rejected.IsAccepted);
        }
    }

    [Fact]
    public void NothingIsDecodedBeforeTheHeaderIsComplete()
    {
        var d = NewDecoder();
        Assert.Empty(Feed(d, Ascii("AMQP")));
        Assert.Empty(Feed(d, Array.Empty<byte>()));
        var events = Feed(d, Concat(new byte[] { 0, 0, 9, 1 }, Heartbeat()));
        Assert.Equal(new[] { "header:accepted", "heartbeat" }, Describe(events));
    }

    // ---- content assembly ------------------------------------------------------------------

    [Fact]
    public void PublishSplitIntoSeveralBodyFramesIsReassembled()
    {
        var body = Bytes(10_000);
        var props = new BasicProperties { ContentType = "application/octet-stream", DeliveryMode = 2, Headers = new FieldTable { ["h"] = 1 } };
        var events = Run(Publish(1, body, chunk: 3000, props: props));

        var cmd = Assert.IsType<Command>(Assert.Single(events));
        Assert.Equal(1, cmd.Channel);
        var publish = Assert.IsType<BasicPublish>(cmd.Method);
        Assert.Equal("amq.direct", publish.Exchange);
        Assert.Equal("rk", publish.RoutingKey);
        Assert.True(publish.Mandatory);
        Assert.NotNull(cmd.Header);
        Assert.Equal(10_000UL, cmd.Header!.BodySize);
        Assert.Equal("application/octet-stream", cmd.Header.Properties.ContentType);
        Assert.Equal((byte)2, cmd.Header.Properties.DeliveryMode);
        Assert.Equal(1, cmd.Header.Properties.Headers!["h"]);
        Assert.Equal(ContentHeader.EncodeProperties(props), cmd.Header.RawProperties);
        Assert.Equal(body, cmd.Body);
    }

    [Fact]
    public void ContentCompletesOnlyWithTheLastBodyFrame()
    {
        var d = OpenDecoder();
        var body = Bytes(9000);
        Assert.Empty(Feed(d, Method(1, new BasicPublish { RoutingKey = "k" })));
        Assert.Empty(Feed(d, Header(1, 9000)));
        Assert.Empty(Feed(d, Body(1, body.AsSpan(0, 4000))));
        Assert.Empty(Feed(d, Body(1, ReadOnlySpan<byte>.Empty))); // an empty body frame is harmless
        Assert.Empty(Feed(d, Body(1, body.AsSpan(4000, 4999))));
        var cmd = Assert.IsType<Command>(Assert.Single(Feed(d, Body(1, body.AsSpan(8999, 1)))));
        Assert.Equal(body, cmd.Body);
    }

    [Fact]
    public void ZeroLengthBodyCompletesAtTheHeader()
    {
        var d = OpenDecoder();
        Assert.Empty(Feed(d, Method(2, new BasicPublish { Exchange = "x" })));
        var cmd = Assert.IsType<Command>(Assert.Single(Feed(d, Header(2, 0, new BasicProperties { MessageId = "m" }))));
        Assert.Equal(2, cmd.Channel);
        Assert.IsType<BasicPublish>(cmd.Method);
        Assert.NotNull(cmd.Header);
        Assert.Equal(0UL, cmd.Header!.BodySize);
        Assert.Equal("m", cmd.Header.Properties.MessageId);
        Assert.Empty(cmd.Body);

        // The channel is free again: a method frame right after is fine.
        var next = Assert.IsType<Command>(Assert.Single(Feed(d, Method(2, new BasicAck { DeliveryTag = 1 }))));
        Assert.IsType<BasicAck>(next.Method);
    }

    [Fact]
    public void ContentOnDifferentChannelsMayInterleave()
    {
        var b1 = Bytes(5000, 1);
        var b2 = Bytes(3000, 2);
        var events = Run(
            Method(1, new BasicPublish { RoutingKey = "one" }),
            Method(2, new BasicPublish { RoutingKey = "two" }),
            Header(2, 3000),
            Header(1, 5000),
            Body(1, b1.AsSpan(0, 2500)),
            Body(2, b2),
            Method(3, new BasicQos { PrefetchCount = 10 }),
            Body(1, b1.AsSpan(2500)));
        Assert.Equal(3, events.Count);
        var c2 = Assert.IsType<Command>(events[0]);
        Assert.Equal(2, c2.Channel);
        Assert.Equal("two", ((BasicPublish)c2.Method).RoutingKey);
        Assert.Equal(b2, c2.Body);
        Assert.IsType<BasicQos>(Assert.IsType<Command>(events[1]).Method);
        var c1 = Assert.IsType<Command>(events[2]);
        Assert.Equal(1, c1.Channel);
        Assert.Equal(b1, c1.Body);
    }

    [Fact]
    public void MultipleFramesInOneChunk()
    {
        var events = Run(
            Method(0, new ConnectionStartOk { Mechanism = "PLAIN" }),
            Method(0, new ConnectionTuneOk { ChannelMax = 10, FrameMax = 131072, Heartbeat = 30 }),
            Method(0, new ConnectionOpen { VirtualHost = "/" }),
            ChannelOpen1,
            Heartbeat(),
            Publish(1, Bytes(100)),
            Method(1, new ChannelClose { ReplyCode = 200 }));
        Assert.Equal(7, events.Count);
        Assert.IsType<ConnectionStartOk>(((Command)events[0]).Method);
        Assert.Equal(30, Assert.IsType<ConnectionTuneOk>(((Command)events[1]).Method).Heartbeat);
        Assert.IsType<ConnectionOpen>(((Command)events[2]).Method);
        Assert.IsType<ChannelOpen>(((Command)events[3]).Method);
        Assert.Same(HeartbeatReceived.Instance, events[4]);
        Assert.Equal(Bytes(100), ((Command)events[5]).Body);
        Assert.IsType<ChannelClose>(((Command)events[6]).Method);
    }

    /// <summary>A representative session: header, handshake, content on two channels, heartbeats, errors-free.</summary>
    private static byte[] SessionStream() => Concat(
        FrameWriter.ProtocolHeader,
        Method(0, new ConnectionStartOk { ClientProperties = new FieldTable { ["product"] = "test" }, Response = Ascii("\0guest\0guest") }),
        Method(0, new ConnectionTuneOk { ChannelMax = 2047, FrameMax = 4096, Heartbeat = 60 }),
        Method(0, new ConnectionOpen()),
        ChannelOpen1,
        Method(2, new ChannelOpen()),
        Publish(1, Bytes(700, 3), chunk: 250, props: new BasicProperties { CorrelationId = "c" }),
        Heartbeat(),
        Method(2, new BasicPublish { RoutingKey = "empty" }),
        Header(2, 0),
        Method(1, new BasicPublish { RoutingKey = "interleaved" }),
        Header(1, 10),
        Publish(2, Bytes(300, 4), chunk: 100),
        Body(1, Bytes(10, 5)),
        Method(1, new BasicAck { DeliveryTag = 99, Multiple = true }),
        Method(0, new ConnectionClose { ReplyCode = 200, ReplyText = "bye" }));

    [Fact]
    public void EverySplitPointYieldsTheSameCommands()
    {
        var stream = SessionStream();
        var reference = Describe(Feed(NewDecoder(), stream));
        Assert.Equal(13, reference.Count);
        Assert.Equal("header:accepted", reference[0]);
        Assert.DoesNotContain(reference, e => e.StartsWith("error", StringComparison.Ordinal));

        for (int split = 0; split <= stream.Length; split++)
        {
            var events = Feed(NewDecoder(), stream[..split], stream[split..]);
            var described = Describe(events);
            if (!described.SequenceEqual(reference))
            {
                Assert.Fail($"split at {split} gave a different event sequence:\n{string.Join("\n", described)}");
            }
        }
    }

    [Fact]
    public void OneByteAtATimeYieldsTheSameCommands()
    {
        var stream = SessionStream();
        var reference = Describe(Feed(NewDecoder(), stream));
        var d = NewDecoder();
        var events = new List<InboundEvent>();
        for (int i = 0; i < stream.Length; i++)
        {
            d.Feed(stream.AsSpan(i, 1), events);
        }

        Assert.Equal(reference, Describe(events));
    }

    [Fact]
    public void RandomChunkingYieldsTheSameCommands()
    {
        var stream = SessionStream();
        var reference = Describe(Feed(NewDecoder(), stream));
        var rng = new Random(12345);
        for (int round = 0; round < 200; round++)
        {
            var d = NewDecoder();
            var events = new List<InboundEvent>();
            int pos = 0;
            while (pos < stream.Length)
            {
                int n = Math.Min(rng.Next(0, 600), stream.Length - pos);
                d.Feed(stream.AsSpan(pos, n), events);
                pos += n;
            }

            Assert.Equal(reference, Describe(events));
        }
    }

    [Fact]
    public void LargeBodyFedInTinyChunksGrowsTheBufferCorrectly()
    {
        var body = Bytes(200_000, 9);
        var stream = Concat(FrameWriter.ProtocolHeader, Publish(5, body, chunk: 131072 - 8));
        var d = NewDecoder();
        var events = new List<InboundEvent>();
        for (int i = 0; i < stream.Length; i += 997)
        {
            d.Feed(stream.AsSpan(i, Math.Min(997, stream.Length - i)), events);
        }

        Assert.Equal(2, events.Count);
        Assert.Equal(body, Assert.IsType<Command>(events[1]).Body);
    }

    // ---- framing errors (decoder stops) ---------------------------------------------------

    private static void AssertStopped(FrameDecoder d)
    {
        Assert.Empty(Feed(d, Concat(Heartbeat(), Method(0, new ConnectionClose()), Method(0, new ConnectionCloseOk()))));
    }

    [Fact]
    public void FrameOverFrameMaxIsFrameErrorAndStops()
    {
        var d = OpenDecoder(frameMax: 4096);
        var ok = Feed(d, Method(1, new BasicPublish()), Header(1, 4088), Body(1, new byte[4088]));
        Assert.Equal(4088, Assert.IsType<Command>(Assert.Single(ok)).Body.Length); // exactly frame_max is fine

        var err = SingleError(Feed(d, Body(1, new byte[4089])));
        Assert.Equal(ReplyCode.FrameError, err.Error.ReplyCode);
        Assert.Equal(0, err.Channel);
        Assert.True(err.Error.IsConnectionError);
        AssertStopped(d);
    }

    [Fact]
    public void OversizedFrameIsRejectedFromItsSevenByteHeaderAlone()
    {
        var d = OpenDecoder(frameMax: 4096);
        // Only the frame header arrives, announcing ~4 GB: the error comes before any payload is buffered.
        var err = SingleError(Feed(d, new byte[] { 3, 0, 1, 0xFF, 0xFF, 0xFF, 0xF0 }));
        Assert.Equal(ReplyCode.FrameError, err.Error.ReplyCode);
        AssertStopped(d);
    }

    [Fact]
    public void TheReplyTextGivesTheAnnouncedSizeEvenNearFourGigabytes()
    {
        // Size plus frame overhead wrapped around in 32 bits: "frame of 7 bytes ... exceeds frame_max" (found by fuzzing).
        var err = SingleError(Feed(OpenDecoder(frameMax: 4096), new byte[] { 3, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF }));
        Assert.Contains("frame of 4294967303 bytes", err.Error.ReplyText);
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0xCD)]
    [InlineData(0xFF)]
    public void BadFrameEndIsFrameErrorAndStops(byte end)
    {
        var d = OpenDecoder();
        var events = Feed(d, Concat(Heartbeat(), Frame(FrameConstants.Method, 0, MethodPayload(new ConnectionCloseOk()), end), Heartbeat()));
        Assert.Equal(2, events.Count);
        Assert.Same(HeartbeatReceived.Instance, events[0]);
        var err = Assert.IsType<ProtocolError>(events[1]);
        Assert.Equal(ReplyCode.FrameError, err.Error.ReplyCode);
        AssertStopped(d);
    }

    [Fact]
    public void FrameSizeFieldLargerThanTheFrameDesynchronisesIntoAFrameError()
    {
        // The size says 5 more bytes than the payload has: the following frame's bytes are read as
        // payload and the byte at the claimed end is not 0xCE.
        var bad = Frame(FrameConstants.Method, 0, MethodPayload(new ConnectionCloseOk()), sizeOverride: 9);
        var err = SingleError(Run(bad, Heartbeat(), Heartbeat()));
        Assert.Equal(ReplyCode.FrameError, err.Error.ReplyCode);
    }

    // ---- connection errors (decoder goes to closing) ----------------------------------------

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(9)]
    [InlineData(0xFF)]
    public void UnknownFrameTypeIsFrameError(byte type)
    {
        var err = SingleError(Run(Frame(type, 3, new byte[] { 1, 2, 3 })));
        Assert.Equal(ReplyCode.FrameError, err.Error.ReplyCode);
        Assert.Equal(3, err.Channel);
    }

    [Fact]
    public void HeaderFrameWithoutMethodIsUnexpectedFrame()
    {
        var err = SingleError(Run(Header(1, 10)));
        Assert.Equal(ReplyCode.UnexpectedFrame, err.Error.ReplyCode);
        Assert.Equal(1, err.Channel);
    }

    [Fact]
    public void BodyWithoutMethodIsUnexpectedFrame()
    {
        var err = SingleError(Run(Body(4, new byte[] { 1 })));
        Assert.Equal(ReplyCode.UnexpectedFrame, err.Error.ReplyCode);
        Assert.Equal(4, err.Channel);
    }

    [Fact]
    public void BodyBeforeHeaderIsUnexpectedFrame()
    {
        var err = SingleError(Run(Method(1, new BasicPublish()), Body(1, new byte[] { 1, 2 })));
        Assert.Equal(ReplyCode.UnexpectedFrame, err.Error.ReplyCode);
        Assert.Equal(1, err.Channel);
    }

    [Fact]
    public void MethodFrameWhileHeaderPendingIsUnexpectedFrame()
    {
        var err = SingleError(Run(Method(1, new BasicPublish()), Method(1, new BasicPublish())));
        Assert.Equal(ReplyCode.UnexpectedFrame, err.Error.ReplyCode);
    }

    [Fact]
    public void MethodFrameWhileBodyPendingIsUnexpectedFrame()
    {
        var err = SingleError(Run(Method(1, new BasicPublish()), Header(1, 10), Body(1, new byte[5]), Method(1, new BasicAck())));
        Assert.Equal(ReplyCode.UnexpectedFrame, err.Error.ReplyCode);
        Assert.Equal(1, err.Channel);
    }

    [Fact]
    public void SecondHeaderIsUnexpectedFrame()
    {
        var err = SingleError(Run(Method(1, new BasicPublish()), Header(1, 10), Header(1, 10)));
        Assert.Equal(ReplyCode.UnexpectedFrame, err.Error.ReplyCode);
    }

    [Fact]
    public void HeaderOfAnotherClassIsUnexpectedFrame()
    {
        var err = SingleError(Run(Method(1, new BasicPublish()), Header(1, 10, classId: 50)));
        Assert.Equal(ReplyCode.UnexpectedFrame, err.Error.ReplyCode);
    }

    [Fact]
    public void MalformedHeaderPayloadIsFrameError()
    {
        var err = SingleError(Run(Method(1, new BasicPublish()), Frame(FrameConstants.Header, 1, new byte[] { 0, 60, 0, 0, 0 })));
        Assert.Equal(ReplyCode.FrameError, err.Error.ReplyCode);
    }

    [Fact]
    public void BodyLongerThanDeclaredIsFrameError()
    {
        var err = SingleError(Run(Method(1, new BasicPublish()), Header(1, 10), Body(1, new byte[6]), Body(1, new byte[5])));
        Assert.Equal(ReplyCode.FrameError, err.Error.ReplyCode);
        Assert.Equal(1, err.Channel);

        var single = SingleError(Run(Method(1, new BasicPublish()), Header(1, 3), Body(1, new byte[4])));
        Assert.Equal(ReplyCode.FrameError, single.Error.ReplyCode);
    }

    [Fact]
    public void HeartbeatOnChannelZeroIsReported()
    {
        var events = Run(Heartbeat(), Heartbeat());
        Assert.Equal(2, events.Count);
        Assert.All(events, e => Assert.Same(HeartbeatReceived.Instance, e));
    }

    [Fact]
    public void HeartbeatOnAnotherChannelIsFrameError()
    {
        var err = SingleError(Run(Heartbeat(1)));
        Assert.Equal(ReplyCode.FrameError, err.Error.ReplyCode);
        Assert.Equal(1, err.Channel);
    }

    [Theory]
    [InlineData(10, 99)]
    [InlineData(60, 41)]
    [InlineData(70, 10)]
    [InlineData(0xFFFF, 1)]
    public void UnknownClassOrMethodIsNotImplemented(int classId, int methodId)
    {
        var payload = new byte[] { (byte)(classId >> 8), (byte)classId, (byte)(methodId >> 8), (byte)methodId, 1, 2, 3 };
        var err = SingleError(Run(Frame(FrameConstants.Method, 2, payload)));
        Assert.Equal(ReplyCode.NotImplemented, err.Error.ReplyCode);
        Assert.Equal(classId, err.Error.ClassId);
        Assert.Equal(methodId, err.Error.MethodId);
        Assert.Equal(2, err.Channel);
    }

    [Fact]
    public void TruncatedMethodArgumentsAreFrameError()
    {
        var payload = MethodPayload(new ConnectionTuneOk { ChannelMax = 1, FrameMax = 8192, Heartbeat = 5 });
        var err = SingleError(Run(Frame(FrameConstants.Method, 0, payload.AsSpan(0, payload.Length - 2))));
        Assert.Equal(ReplyCode.FrameError, err.Error.ReplyCode);

        var tooShortForIds = SingleError(Run(Frame(FrameConstants.Method, 0, new byte[] { 0, 10, 0 })));
        Assert.Equal(ReplyCode.FrameError, tooShortForIds.Error.ReplyCode);

        var empty = SingleError(Run(Frame(FrameConstants.Method, 0, ReadOnlySpan<byte>.Empty)));
        Assert.Equal(ReplyCode.FrameError, empty.Error.ReplyCode);
    }

    [Fact]
    public void TrailingMethodBytesAreFrameError()
    {
        var payload = Concat(MethodPayload(new BasicAck { DeliveryTag = 1 }), new byte[] { 0 });
        var err = SingleError(Run(Frame(FrameConstants.Method, 1, payload)));
        Assert.Equal(ReplyCode.FrameError, err.Error.ReplyCode);
        Assert.Equal(60, err.Error.ClassId);
        Assert.Equal(80, err.Error.MethodId);
    }

    [Fact]
    public void ContentMethodOnChannelZeroIsChannelError()
    {
        foreach (Method m in new Method[] { new BasicPublish(), new BasicDeliver(), new BasicReturn(), new BasicGetOk() })
        {
            var err = SingleError(Run(Method(0, m), Header(0, 0)));
            Assert.Equal(ReplyCode.ChannelError, err.Error.ReplyCode);
            Assert.Equal(0, err.Channel);
        }
    }

    [Fact]
    public void AfterAConnectionErrorOnlyCloseAndCloseOkComeOut()
    {
        var d = OpenDecoder();
        var first = SingleError(Feed(d, Heartbeat(7)));
        Assert.Equal(ReplyCode.FrameError, first.Error.ReplyCode);

        var events = Feed(d,
            ChannelOpen1,
            Heartbeat(),
            Publish(1, Bytes(50)),
            Header(3, 5),
            Body(3, new byte[] { 1 }),
            Frame(9, 0, new byte[] { 1 }),
            Method(0, new ConnectionStartOk()),
            Method(1, new ConnectionClose { ReplyCode = 1 }), // close, but not on channel 0
            Method(0, new ConnectionTuneOk { FrameMax = 4096 }),
            Method(0, new ConnectionClose { ReplyCode = 200, ReplyText = "ok" }),
            Method(1, new ChannelClose()),
            Method(0, new ConnectionCloseOk()));

        Assert.Equal(2, events.Count);
        var close = Assert.IsType<ConnectionClose>(Assert.IsType<Command>(events[0]).Method);
        Assert.Equal(200, close.ReplyCode);
        Assert.Equal("ok", close.ReplyText);
        Assert.Equal(0, ((Command)events[0]).Channel);
        Assert.IsType<ConnectionCloseOk>(Assert.IsType<Command>(events[1]).Method);
        Assert.Equal(Wire.DefaultFrameMax, d.FrameMax); // tune-ok is ignored while closing
    }

    [Fact]
    public void AfterAConnectionErrorMalformedMethodsAreDroppedSilently()
    {
        var d = OpenDecoder();
        SingleError(Feed(d, Header(1, 1)));
        var events = Feed(d,
            Frame(FrameConstants.Method, 0, new byte[] { 0, 10, 0, 99 }),                  // unknown method
            Frame(FrameConstants.Method, 0, new byte[] { 0, 10 }),                         // truncated ids
            Frame(FrameConstants.Method, 0, Concat(MethodPayload(new ConnectionCloseOk()), new byte[] { 1 })), // trailing
            Method(0, new ConnectionCloseOk()));
        Assert.IsType<ConnectionCloseOk>(Assert.IsType<Command>(Assert.Single(events)).Method);
    }

    [Fact]
    public void ConnectionErrorDropsPendingContent()
    {
        var d = OpenDecoder();
        Assert.Empty(Feed(d, Method(1, new BasicPublish()), Header(1, 4)));
        SingleError(Feed(d, Heartbeat(2)));
        Assert.Empty(Feed(d, Body(1, new byte[4])));
    }

    // ---- frame_max negotiation -----------------------------------------------------------

    [Fact]
    public void TuneOkLowersTheEnforcedFrameMax()
    {
        var d = OpenDecoder(frameMax: 131072);
        Assert.Equal(131072, d.FrameMax);

        // Before tune-ok a 10000-byte frame is fine.
        var before = Feed(d, Method(1, new BasicPublish()), Header(1, 9992), Body(1, new byte[9992]));
        Assert.Equal(9992, Assert.IsType<Command>(Assert.Single(before)).Body.Length);

        var tune = Feed(d, Method(0, new ConnectionTuneOk { ChannelMax = 0, FrameMax = 8192, Heartbeat = 0 }));
        Assert.IsType<ConnectionTuneOk>(Assert.IsType<Command>(Assert.Single(tune)).Method);
        Assert.Equal(8192, d.FrameMax);

        // Exactly 8192 still passes, 10000 does not.
        var atLimit = Feed(d, Method(1, new BasicPublish()), Header(1, 8184), Body(1, new byte[8184]));
        Assert.Equal(8184, Assert.IsType<Command>(Assert.Single(atLimit)).Body.Length);

        Assert.Empty(Feed(d, Method(1, new BasicPublish()), Header(1, 9992)));
        var err = SingleError(Feed(d, Body(1, new byte[9992])));
        Assert.Equal(ReplyCode.FrameError, err.Error.ReplyCode);
        AssertStopped(d);
    }

    [Theory]
    [InlineData(0u, 131072)]          // 0: no limit from the client, the server's stays
    [InlineData(1000u, 4096)]         // below the spec minimum: clamped to frame-min-size
    [InlineData(4096u, 4096)]
    [InlineData(131072u, 131072)]
    [InlineData(1048576u, 131072)]    // above the server's: the server's stays
    [InlineData(uint.MaxValue, 131072)]
    public void TuneOkFrameMaxIsClampedToTheServerLimits(uint requested, int expected)
    {
        var d = OpenDecoder(frameMax: 131072);
        Feed(d, Method(0, new ConnectionTuneOk { FrameMax = requested }));
        Assert.Equal(expected, d.FrameMax);
    }

    [Fact]
    public void TuneOkOnAnotherChannelDoesNotChangeFrameMax()
    {
        var d = OpenDecoder(frameMax: 131072);
        Assert.IsType<Command>(Assert.Single(Feed(d, Method(1, new ConnectionTuneOk { FrameMax = 4096 }))));
        Assert.Equal(131072, d.FrameMax);
    }

    // ---- message size limit (channel error, decoder continues) ----------------------------

    [Fact]
    public void MessageLargerThanMaxMessageSizeIsAChannelErrorAndDecodingContinues()
    {
        var d = OpenDecoder(maxMessageSize: 1000);
        var events = Feed(d,
            Publish(1, Bytes(1001), chunk: 400),
            Method(1, new BasicAck { DeliveryTag = 3 }),
            Publish(1, Bytes(1000), chunk: 400),
            Method(2, new BasicPublish()),
            Header(2, 5000),
            Heartbeat(),
            Body(2, new byte[4000]),
            Body(2, new byte[1000]),
            Publish(2, Bytes(10)));

        Assert.Equal(6, events.Count);
        var e1 = Assert.IsType<ProtocolError>(events[0]);
        Assert.Equal(1, e1.Channel);
        Assert.Equal(ReplyCode.PreconditionFailed, e1.Error.ReplyCode);
        Assert.False(e1.Error.IsConnectionError);
        Assert.Equal(60, e1.Error.ClassId);
        Assert.Equal(40, e1.Error.MethodId);
        Assert.IsType<BasicAck>(Assert.IsType<Command>(events[1]).Method);
        Assert.Equal(Bytes(1000), Assert.IsType<Command>(events[2]).Body);
        Assert.Same(HeartbeatReceived.Instance, events[3]);
        var e2 = Assert.IsType<ProtocolError>(events[4]);
        Assert.Equal(2, e2.Channel);
        Assert.Equal(ReplyCode.PreconditionFailed, e2.Error.ReplyCode);
        Assert.Equal(Bytes(10), Assert.IsType<Command>(events[5]).Body);
    }

    [Fact]
    public void RejectedMessageStillEnforcesItsDeclaredBodySize()
    {
        var d = OpenDecoder(maxMessageSize: 10);
        Assert.Empty(Feed(d, Method(1, new BasicPublish()), Header(1, 20), Body(1, new byte[15])));
        var err = SingleError(Feed(d, Body(1, new byte[6])));
        Assert.Equal(ReplyCode.FrameError, err.Error.ReplyCode);
    }

    [Fact]
    public void HugeDeclaredBodySizeIsRejectedWithoutAllocating()
    {
        var d = OpenDecoder(maxMessageSize: 1 << 20);
        Assert.Empty(Feed(d, Method(1, new BasicPublish()), Header(1, ulong.MaxValue)));
        Assert.Empty(Feed(d, Body(1, new byte[100])));
        // A method frame now is still a framing violation: content is pending on channel 1.
        var err = SingleError(Feed(d, Method(1, new BasicAck())));
        Assert.Equal(ReplyCode.UnexpectedFrame, err.Error.ReplyCode);
    }
}
