using Broker.Protocol;
using Broker.Protocol.Methods;
using static Broker.EndToEnd.Tests.Fuzz.FaultKit;

namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>
/// Faults inside method frames and in where methods are sent, on a connection with channel 1
/// open: unknown ids (540), arguments cut short or followed by junk (501), field tables with an
/// unknown type tag (502) or a length past the frame (501), channels never opened or opened
/// twice (504), a method channel 0 does not expect (504), a connection method on a channel (503).
/// </summary>
public static class MethodFaults
{
    /// <summary>The field types RabbitMQ reads (rabbit_binary_parser); any other tag is a syntax error.</summary>
    public const string FieldTypes = "tbBsuIilfdDSxATFV";

    private static readonly HashSet<(int, int)> Known =
        MethodDecoder.AllMethods().Select(m => ((int)m.ClassId, (int)m.MethodId)).ToHashSet();

    private static readonly int[] KnownClasses = Known.Select(k => k.Item1).Distinct().ToArray();

    public static IEnumerable<Fault> All => new Fault[]
    {
        new("unknown-method", UnknownMethod, "RabbitMQ drops the connection: its reader fails on unknown_method_id"),
        new("truncated-arguments", TruncatedArguments),
        new("trailing-bytes", TrailingBytes),
        new("unknown-field-type", UnknownFieldType, "RabbitMQ drops the connection for some tags and places: its table parser fails (function_clause)"),
        new("table-length-past-frame", TableLengthPastFrame),
        new("method-on-unopened-channel", MethodOnUnopenedChannel),
        new("channel-opened-twice", ChannelOpenedTwice),
        new("channel-method-on-channel-0", ChannelMethodOnChannel0),
        new("connection-method-on-a-channel", ConnectionMethodOnAChannel),
    };

    /// <summary>Methods a client sends on an open channel, with arguments of every kind (strings, bits, tables).</summary>
    private static Method ChannelMethod(Random rng) => rng.Next(6) switch
    {
        0 => new QueueDeclare { Queue = "fuzz-q" + rng.Next(), Exclusive = true, Arguments = SessionBuilder.RandomTable(rng, rng.Next(1, 4)) },
        1 => new BasicQos { PrefetchCount = (ushort)rng.Next(1000) },
        2 => new QueueBind { Queue = "fuzz-none", Exchange = "amq.direct", RoutingKey = "k", Arguments = SessionBuilder.RandomTable(rng, 2) },
        3 => new BasicConsume { Queue = "fuzz-none", ConsumerTag = "t", Arguments = SessionBuilder.RandomTable(rng, 1) },
        4 => new ExchangeDeclare { Exchange = "fuzz-x", Type = "fanout", Passive = true },
        _ => new ConfirmSelect(),
    };

    private static FuzzCase OnChannelOne(string kind, string detail, Random rng, uint fm, FuzzFrame frame, Expectation expect)
    {
        var frames = LeadIn(rng, fm);
        frames.Add(frame);
        return Case(kind, detail, Prefix.ChannelOpen, frames, expect, fm);
    }

    private static FuzzCase UnknownMethod(Random rng)
    {
        int cls, method;
        do
        {
            cls = rng.Next(2) == 0 ? KnownClasses[rng.Next(KnownClasses.Length)] : rng.Next(65536);
            method = rng.Next(3) == 0 ? rng.Next(65536) : rng.Next(200);
        }
        while (Known.Contains((cls, method)));

        var args = new byte[rng.Next(20)];
        rng.NextBytes(args);
        var payload = new byte[] { (byte)(cls >> 8), (byte)cls, (byte)(method >> 8), (byte)method }.Concat(args).ToArray();
        ushort channel = (ushort)(rng.Next(2) == 0 ? 0 : 1);
        uint fm = FrameMax(rng);
        return OnChannelOne("unknown-method", $"{cls}.{method} on channel {channel}", rng, fm,
            new FuzzFrame(FrameConstants.Method, channel, payload), Expectation.ConnectionClose(ReplyCode.NotImplemented));
    }

    private static FuzzCase TruncatedArguments(Random rng)
    {
        var frame = FuzzFrame.Method(1, ChannelMethod(rng));
        int keep = rng.Next(4, frame.Payload.Length);
        string detail = $"{frame} cut to {keep} of {frame.Payload.Length} bytes";
        frame.Payload = frame.Payload[..keep];
        uint fm = FrameMax(rng);
        return OnChannelOne("truncated-arguments", detail, rng, fm, frame, Expectation.ConnectionClose(ReplyCode.FrameError));
    }

    private static FuzzCase TrailingBytes(Random rng)
    {
        var frame = FuzzFrame.Method(1, ChannelMethod(rng));
        var junk = new byte[rng.Next(1, 9)];
        rng.NextBytes(junk);
        frame.Payload = frame.Payload.Concat(junk).ToArray();
        uint fm = FrameMax(rng);
        return OnChannelOne("trailing-bytes", $"{frame} with {junk.Length} bytes after its arguments", rng, fm, frame,
            Expectation.ConnectionClose(ReplyCode.FrameError));
    }

    /// <summary>
    /// A table entry (top level, in a nested table or in an array) whose type tag is not a field
    /// type. The entry is found by its key in the encoded frame, so only its tag changes.
    /// </summary>
    private static FuzzCase UnknownFieldType(Random rng)
    {
        var table = SessionBuilder.RandomTable(rng, rng.Next(3));
        var marked = new FieldTable { [Marker] = (sbyte)0 };
        string where = rng.Next(3) switch
        {
            0 => "top level",
            1 => "nested table",
            _ => "array",
        };
        if (where == "top level")
        {
            table[Marker] = (sbyte)0;
        }
        else
        {
            table["fz-m"] = where == "array" ? new List<object?> { 1, marked } : marked;
        }

        var method = rng.Next(2) == 0
            ? (Method)new QueueDeclare { Queue = "fuzz-q" + rng.Next(), Exclusive = true, Arguments = table }
            : new BasicConsume { Queue = "fuzz-none", Arguments = table };
        var frame = FuzzFrame.Method(1, method);
        byte tag = (byte)PickExcept(rng, 0, 256, FieldTypes.Select(c => (int)c).ToArray());
        SetMarkedTag(frame.Payload, tag);
        uint fm = FrameMax(rng);
        return OnChannelOne("unknown-field-type", $"tag 0x{tag:x2} in {method.Name}, {where}", rng, fm, frame,
            Expectation.ConnectionClose(ReplyCode.SyntaxError));
    }

    /// <summary>The key of the table entry whose type tag a fault replaces.</summary>
    public const string Marker = "fz-bad";

    /// <summary>Replaces the type tag of the <see cref="Marker"/> entry in an encoded payload.</summary>
    public static void SetMarkedTag(byte[] payload, byte tag)
    {
        var key = new byte[] { (byte)Marker.Length }.Concat(System.Text.Encoding.ASCII.GetBytes(Marker)).ToArray();
        int at = payload.AsSpan().IndexOf(key);
        if (at < 0)
        {
            throw new InvalidOperationException("marker entry not found in the payload");
        }

        payload[at + key.Length] = tag;
    }

    /// <summary>queue.declare whose arguments table (its last field) claims more bytes than the frame has.</summary>
    private static FuzzCase TableLengthPastFrame(Random rng)
    {
        var declare = new QueueDeclare { Queue = "fuzz-q" + rng.Next(), Exclusive = true, Arguments = SessionBuilder.RandomTable(rng, rng.Next(3)) };
        var frame = FuzzFrame.Method(1, declare);
        int lengthAt = 4 + 2 + 1 + declare.Queue.Length + 1; // ids, ticket, queue name, bits
        uint actual = (uint)(frame.Payload.Length - lengthAt - 4);
        uint claimed = rng.Next(2) == 0 ? actual + (uint)rng.Next(1, 100) : uint.MaxValue - (uint)rng.Next(100);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.Payload.AsSpan(lengthAt), claimed);
        uint fm = FrameMax(rng);
        return OnChannelOne("table-length-past-frame", $"table of {actual} bytes claims {claimed}", rng, fm, frame,
            Expectation.ConnectionClose(ReplyCode.FrameError));
    }

    private static FuzzCase MethodOnUnopenedChannel(Random rng)
    {
        ushort channel = (ushort)rng.Next(2, 2048);
        uint fm = FrameMax(rng);
        var frames = LeadIn(rng, fm);
        bool content = rng.Next(3) == 0;
        if (content)
        {
            frames.AddRange(SessionBuilder.Publish(rng, channel, "nowhere", rng.Next(100), fm));
        }
        else
        {
            frames.Add(FuzzFrame.Method(channel, rng.Next(4) == 0 ? new ChannelClose { ReplyCode = 200 } : ChannelMethod(rng)));
        }

        return Case("method-on-unopened-channel", $"{frames[^1]}", Prefix.ChannelOpen, frames,
            Expectation.ConnectionClose(ReplyCode.ChannelError), fm);
    }

    private static FuzzCase ChannelOpenedTwice(Random rng)
    {
        uint fm = FrameMax(rng);
        return OnChannelOne("channel-opened-twice", "", rng, fm, FuzzFrame.Method(1, new ChannelOpen()),
            Expectation.ConnectionClose(ReplyCode.ChannelError));
    }

    /// <summary>A channel's method (basic.publish with its content included) on channel 0.</summary>
    private static FuzzCase ChannelMethodOnChannel0(Random rng)
    {
        uint fm = FrameMax(rng);
        var frames = LeadIn(rng, fm);
        if (rng.Next(3) == 0)
        {
            frames.AddRange(SessionBuilder.Publish(rng, 0, "nowhere", rng.Next(100), fm));
        }
        else
        {
            frames.Add(FuzzFrame.Method(0, rng.Next(4) == 0 ? new ChannelOpen() : ChannelMethod(rng)));
        }

        return Case("channel-method-on-channel-0", $"{frames[^1]}", Prefix.ChannelOpen, frames,
            Expectation.ConnectionClose(ReplyCode.ChannelError), fm);
    }

    /// <summary>A connection-class method on channel 1.</summary>
    private static FuzzCase ConnectionMethodOnAChannel(Random rng)
    {
        Method method = rng.Next(4) switch
        {
            0 => SessionBuilder.StartOk(),
            1 => new ConnectionTuneOk { FrameMax = 131072 },
            2 => new ConnectionOpen { VirtualHost = "/" },
            _ => new ConnectionClose { ReplyCode = 200 },
        };
        uint fm = FrameMax(rng);
        return OnChannelOne("connection-method-on-a-channel", method.Name, rng, fm, FuzzFrame.Method(1, method),
            Expectation.ConnectionClose(ReplyCode.CommandInvalid));
    }
}
