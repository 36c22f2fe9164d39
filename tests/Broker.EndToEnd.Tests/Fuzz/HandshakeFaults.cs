using System.Text;
using Broker.Protocol;
using Broker.Protocol.Methods;
using static Broker.EndToEnd.Tests.Fuzz.FaultKit;

namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>
/// Faults before the connection is open: another protocol's header (the broker answers with its
/// own and closes), wrong or malformed handshake methods, refused credentials, tune values out of
/// range, an unknown vhost, and hanging up halfway through the header.
/// </summary>
public static class HandshakeFaults
{
    public static IEnumerable<Fault> All => new Fault[]
    {
        new("other-protocol-header", OtherProtocolHeader),
        new("frame-before-header", FrameBeforeHeader),
        new("header-cut-then-hang-up", HeaderCutThenHangUp),
        new("wrong-method-for-start-ok", WrongMethodForStartOk),
        new("start-ok-unknown-field-type", StartOkUnknownFieldType),
        new("wrong-password", WrongPassword),
        new("tune-ok-out-of-range", TuneOkOutOfRange),
        new("unknown-vhost", UnknownVhost),
        new("channel-before-open", ChannelBeforeOpen),
    };

    /// <summary>Eight bytes that are not the AMQP 0-9-1 header (nor one of the older AMQP headers RabbitMQ still speaks).</summary>
    private static FuzzCase OtherProtocolHeader(Random rng)
    {
        byte[] header = rng.Next(3) switch
        {
            0 => Encoding.ASCII.GetBytes("AMQP").Concat(new byte[] { 0, 1, 0, 0 }).ToArray(), // AMQP 1.0
            1 => Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\n\r\n"),
            _ => RandomNotA(rng),
        };
        return new FuzzCase("other-protocol-header", Convert.ToHexString(header), Prefix.None, header, Expectation.HeaderReply());
    }

    private static byte[] RandomNotA(Random rng)
    {
        var bytes = new byte[rng.Next(8, 64)];
        rng.NextBytes(bytes);
        bytes[0] = (byte)PickExcept(rng, 0, 256, new[] { (int)'A' });
        return bytes;
    }

    private static FuzzCase FrameBeforeHeader(Random rng)
    {
        var bytes = FuzzFrame.Serialize(SessionBuilder.Handshake(FrameMax(rng)));
        return new FuzzCase("frame-before-header", "start-ok without the protocol header", Prefix.None, bytes, Expectation.HeaderReply());
    }

    private static FuzzCase HeaderCutThenHangUp(Random rng)
    {
        var bytes = FrameWriter.ProtocolHeader[..rng.Next(0, 8)];
        return new FuzzCase("header-cut-then-hang-up", $"{bytes.Length} bytes", Prefix.None, bytes, Expectation.HangUp(), HangUp: true);
    }

    /// <summary>Another connection method where start-ok belongs.</summary>
    private static FuzzCase WrongMethodForStartOk(Random rng)
    {
        Method method = rng.Next(3) switch
        {
            0 => new ConnectionTuneOk { FrameMax = 131072 },
            1 => new ConnectionOpen { VirtualHost = "/" },
            _ => new ConnectionSecureOk { Response = new byte[3] },
        };
        return Case("wrong-method-for-start-ok", method.Name, Prefix.Started, new[] { FuzzFrame.Method(0, method) },
            Expectation.HandshakeError(ReplyCode.ChannelError));
    }

    private static FuzzCase StartOkUnknownFieldType(Random rng)
    {
        var frame = FuzzFrame.Method(0, SessionBuilder.StartOk(new FieldTable { [MethodFaults.Marker] = (sbyte)0 }));
        byte tag = (byte)PickExcept(rng, 0, 256, MethodFaults.FieldTypes.Select(c => (int)c).ToArray());
        MethodFaults.SetMarkedTag(frame.Payload, tag);
        return Case("start-ok-unknown-field-type", $"tag 0x{tag:x2}", Prefix.Started, new[] { frame },
            Expectation.HandshakeError(ReplyCode.SyntaxError));
    }

    /// <summary>
    /// A refused login; the client asks (authentication_failure_close) to be told, so it is 403.
    /// Each case comes from its own loopback address, so the login throttle does not hold it back.
    /// </summary>
    private static FuzzCase WrongPassword(Random rng)
    {
        var startOk = SessionBuilder.StartOk();
        startOk.Response = Encoding.UTF8.GetBytes($"\0guest\0wrong{rng.Next()}");
        return Case("wrong-password", "", Prefix.Started, new[] { FuzzFrame.Method(0, startOk) },
            Expectation.ConnectionClose(ReplyCode.AccessRefused));
    }

    /// <summary>
    /// tune-ok with frame_max under 4096 or over the broker's, or channel_max over the broker's:
    /// 530 (RabbitMQ drops the socket instead, after its 3 s delay for handshake errors).
    /// </summary>
    private static FuzzCase TuneOkOutOfRange(Random rng)
    {
        var tuneOk = rng.Next(3) switch
        {
            0 => new ConnectionTuneOk { ChannelMax = SessionBuilder.ChannelMax, FrameMax = (uint)rng.Next(1, FrameConstants.MinSize) },
            1 => new ConnectionTuneOk { ChannelMax = SessionBuilder.ChannelMax, FrameMax = FuzzCase.DefaultFrameMax + 1 + (uint)rng.Next(1 << 20) },
            _ => new ConnectionTuneOk { ChannelMax = (ushort)rng.Next(2048, 65536), FrameMax = FuzzCase.DefaultFrameMax },
        };
        return Case("tune-ok-out-of-range", $"frame_max {tuneOk.FrameMax}, channel_max {tuneOk.ChannelMax}", Prefix.Tuned,
            new[] { FuzzFrame.Method(0, tuneOk), FuzzFrame.Method(0, new ConnectionOpen { VirtualHost = "/" }) },
            Expectation.HandshakeError(ReplyCode.NotAllowed));
    }

    private static FuzzCase UnknownVhost(Random rng)
    {
        string vhost = "/fuzz-nowhere-" + rng.Next();
        return Case("unknown-vhost", vhost, Prefix.Tuned,
            new[] { ValidTuneOk(), FuzzFrame.Method(0, new ConnectionOpen { VirtualHost = vhost }) },
            Expectation.ConnectionClose(ReplyCode.NotAllowed));
    }

    /// <summary>channel.open after tune-ok, before connection.open: RabbitMQ answers any frame on a channel then with 505.</summary>
    private static FuzzCase ChannelBeforeOpen(Random rng) =>
        Case("channel-before-open", "", Prefix.Tuned,
            new[] { ValidTuneOk(), FuzzFrame.Method((ushort)rng.Next(1, 100), new ChannelOpen()) },
            Expectation.ConnectionClose(ReplyCode.UnexpectedFrame));

    private static FuzzFrame ValidTuneOk() =>
        FuzzFrame.Method(0, new ConnectionTuneOk { ChannelMax = SessionBuilder.ChannelMax, FrameMax = FuzzCase.DefaultFrameMax });
}
