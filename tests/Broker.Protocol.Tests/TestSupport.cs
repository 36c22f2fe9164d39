using System.Text;
using Broker.Protocol;
using Broker.Protocol.Methods;

namespace Broker.Protocol.Tests;

/// <summary>Builders for raw frames and helpers for running byte streams through a FrameDecoder.</summary>
internal static class Wire
{
    public const int DefaultFrameMax = 131072;
    public const long DefaultMaxMessageSize = 16 * 1024 * 1024;

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Broker.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException(
            $"no Broker.sln above {AppContext.BaseDirectory}");
    }

    public static byte[] Concat(params byte[][] parts)
    {
        var result = new byte[parts.Sum(p => p.Length)];
        int at = 0;
        foreach (var p in parts)
        {
            p.CopyTo(result, at);
            at += p.Length;
        }

        return result;
    }

    /// <summary>Any frame, with full control over type, size field and frame-end byte.</summary>
    public static byte[] Frame(byte type, ushort channel, ReadOnlySpan<byte> payload, byte end = 0xCE,
        uint? sizeOverride = null)
    {
        var w = new AmqpWriter();
        w.WriteOctet(type);
        w.WriteShort(channel);
        w.WriteLong(sizeOverride ?? (uint)payload.Length);
        w.WriteBytes(payload);
        w.WriteOctet(end);
        return w.ToArray();
    }

    public static byte[] MethodPayload(Method m)
    {
        var w = new AmqpWriter();
        w.WriteShort(m.ClassId);
        w.WriteShort(m.MethodId);
        m.EncodeArguments(w);
        return w.ToArray();
    }

    public static byte[] Method(ushort channel, Method m)
    {
        var w = new AmqpWriter();
        FrameWriter.WriteMethod(w, channel, m);
        return w.ToArray();
    }

    public static byte[] HeaderPayload(ushort classId, ulong bodySize, BasicProperties? props = null, ushort weight = 0)
    {
        var w = new AmqpWriter();
        w.WriteShort(classId);
        w.WriteShort(weight);
        w.WriteLongLong(bodySize);
        (props ?? new BasicProperties()).Encode(w);
        return w.ToArray();
    }

    public static byte[] Header(ushort channel, ulong bodySize, BasicProperties? props = null, ushort classId = 60) =>
        Frame(FrameConstants.Header, channel, HeaderPayload(classId, bodySize, props));

    public static byte[] Body(ushort channel, ReadOnlySpan<byte> bytes) => Frame(FrameConstants.Body, channel, bytes);

    public static byte[] Heartbeat(ushort channel = 0) => Frame(FrameConstants.Heartbeat, channel, ReadOnlySpan<byte>.Empty);

    /// <summary>basic.publish + header + the body cut into frames of at most <paramref name="chunk"/> bytes.</summary>
    public static byte[] Publish(ushort channel, byte[] body, int chunk = 4000, BasicProperties? props = null,
        string exchange = "amq.direct", string routingKey = "rk")
    {
        var parts = new List<byte[]>
        {
            Method(channel, new BasicPublish { Exchange = exchange, RoutingKey = routingKey, Mandatory = true }),
            Header(channel, (ulong)body.Length, props),
        };
        for (int i = 0; i < body.Length; i += chunk)
        {
            parts.Add(Body(channel, body.AsSpan(i, Math.Min(chunk, body.Length - i))));
        }

        return Concat(parts.ToArray());
    }

    public static byte[] Bytes(int count, int seed = 1)
    {
        var b = new byte[count];
        new Random(seed).NextBytes(b);
        return b;
    }

    public static FrameDecoder NewDecoder(int frameMax = DefaultFrameMax, long maxMessageSize = DefaultMaxMessageSize) =>
        new(frameMax, maxMessageSize);

    /// <summary>A decoder that has already accepted the protocol header (its Accepted event is discarded).</summary>
    public static FrameDecoder OpenDecoder(int frameMax = DefaultFrameMax, long maxMessageSize = DefaultMaxMessageSize)
    {
        var d = NewDecoder(frameMax, maxMessageSize);
        var events = new List<InboundEvent>();
        d.Feed(FrameWriter.ProtocolHeader, events);
        Assert.Same(ProtocolHeaderReceived.Accepted, Assert.Single(events));
        return d;
    }

    public static List<InboundEvent> Feed(FrameDecoder d, params byte[][] chunks)
    {
        var events = new List<InboundEvent>();
        foreach (var c in chunks)
        {
            d.Feed(c, events);
        }

        return events;
    }

    /// <summary>Feeds frames (not including the protocol header) to a fresh, opened decoder in one chunk.</summary>
    public static List<InboundEvent> Run(params byte[][] frames) => Feed(OpenDecoder(), Concat(frames));

    public static ProtocolError SingleError(IReadOnlyList<InboundEvent> events) =>
        Assert.IsType<ProtocolError>(Assert.Single(events));

    /// <summary>A canonical text form of an event, so event sequences can be compared exactly.</summary>
    public static string Describe(InboundEvent e) => e switch
    {
        ProtocolHeaderReceived h => h.IsAccepted ? "header:accepted" : "header:rejected",
        HeartbeatReceived => "heartbeat",
        ProtocolError p => $"error ch={p.Channel} code={p.Error.ReplyCode} class={p.Error.ClassId} method={p.Error.MethodId}",
        Command c => $"command ch={c.Channel} {c.Method.Name} args={Convert.ToHexString(MethodPayload(c.Method))}"
            + (c.Header is null ? " noheader" : $" header={c.Header.ClassId}/{c.Header.BodySize}/{Convert.ToHexString(c.Header.RawProperties)}")
            + $" body={Convert.ToHexString(c.Body)}",
        _ => throw new InvalidOperationException($"unexpected event type {e.GetType().Name}"),
    };

    public static List<string> Describe(IEnumerable<InboundEvent> events) => events.Select(Describe).ToList();

    public static byte[] Ascii(string s) => Encoding.Latin1.GetBytes(s);
}
