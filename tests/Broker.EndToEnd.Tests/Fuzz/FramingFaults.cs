using Broker.Protocol;
using static Broker.EndToEnd.Tests.Fuzz.FaultKit;

namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>
/// Faults in the frame layer, on a connection with channel 1 open: framing is lost, so RabbitMQ
/// closes the connection with 501 FRAME_ERROR whatever the frame carried.
/// </summary>
public static class FramingFaults
{
    private static readonly int[] FrameTypes = { FrameConstants.Method, FrameConstants.Header, FrameConstants.Body, FrameConstants.Heartbeat };

    public static IEnumerable<Fault> All => new Fault[]
    {
        new("bad-frame-end", BadFrameEnd),
        new("unknown-frame-type", UnknownFrameType),
        new("size-over-frame-max", SizeOverFrameMax),
        new("body-frame-over-frame-max", BodyFrameOverFrameMax,
            "RabbitMQ checks a frame's size only when the frame is not wholly in its read buffer"),
        new("size-short-of-payload", SizeShortOfPayload),
    };

    /// <summary>The lead-in plus a publish, and which of those frames the fault hits.</summary>
    private static (List<FuzzFrame> Frames, int Victim) Traffic(Random rng, uint frameMax)
    {
        var frames = LeadIn(rng, frameMax);
        frames.AddRange(SessionBuilder.Publish(rng, 1, "nowhere", rng.Next(0, 3 * (int)frameMax), frameMax));
        return (frames, rng.Next(frames.Count));
    }

    private static FuzzCase BadFrameEnd(Random rng)
    {
        uint fm = FrameMax(rng);
        var (frames, victim) = Traffic(rng, fm);
        frames[victim].End = (byte)PickExcept(rng, 0, 256, new[] { (int)FrameConstants.End });
        return Case("bad-frame-end", $"{frames[victim]}, frame {victim}", Prefix.ChannelOpen, frames,
            Expectation.ConnectionClose(ReplyCode.FrameError), fm);
    }

    private static FuzzCase UnknownFrameType(Random rng)
    {
        uint fm = FrameMax(rng);
        var (frames, victim) = Traffic(rng, fm);
        frames[victim].Type = (byte)PickExcept(rng, 0, 256, FrameTypes);
        return Case("unknown-frame-type", $"{frames[victim]}, frame {victim}", Prefix.ChannelOpen, frames,
            Expectation.ConnectionClose(ReplyCode.FrameError), fm);
    }

    /// <summary>
    /// A frame header claiming more than frame_max: refused before any of it is buffered. The sizes
    /// are past RabbitMQ's tolerance too (it lets the payload alone reach frame_max, 8 bytes over;
    /// the broker keeps to the spec's limit).
    /// </summary>
    private static FuzzCase SizeOverFrameMax(Random rng)
    {
        uint fm = FrameMax(rng);
        var (frames, victim) = Traffic(rng, fm);
        frames[victim].DeclaredSize = rng.Next(3) switch
        {
            0 => fm + 1,
            1 => uint.MaxValue,
            _ => fm + 1 + (uint)rng.Next(),
        };
        return Case("size-over-frame-max", $"{frames[victim]}, frame {victim}, frame_max {(int)fm}", Prefix.ChannelOpen, frames,
            Expectation.ConnectionClose(ReplyCode.FrameError), fm);
    }

    /// <summary>A body really sent in one frame larger than frame_max.</summary>
    private static FuzzCase BodyFrameOverFrameMax(Random rng)
    {
        uint fm = FrameMax(rng);
        int size = (int)fm + rng.Next(1, 2000); // past RabbitMQ's 8 bytes of tolerance too
        var frames = LeadIn(rng, fm);
        frames.AddRange(SessionBuilder.Publish(rng, 1, "nowhere", size, frameMax: (uint)size + FrameWriter.FrameOverhead, fullFrames: true));
        return Case("body-frame-over-frame-max", $"body frame of {size} bytes, frame_max {(int)fm}", Prefix.ChannelOpen, frames,
            Expectation.ConnectionClose(ReplyCode.FrameError), fm);
    }

    /// <summary>
    /// A size smaller than the payload: the frame seems to end inside it, where the byte is almost
    /// never 0xCE (when it is, the case is remade).
    /// </summary>
    private static FuzzCase SizeShortOfPayload(Random rng)
    {
        while (true)
        {
            uint fm = FrameMax(rng);
            var (frames, victim) = Traffic(rng, fm);
            var f = frames[victim];
            if (f.Payload.Length == 0)
            {
                continue;
            }

            uint size = (uint)rng.Next(f.Payload.Length);
            if (f.Payload[size] == FrameConstants.End)
            {
                continue;
            }

            f.DeclaredSize = size;
            return Case("size-short-of-payload", $"{f}, frame {victim}", Prefix.ChannelOpen, frames,
                Expectation.ConnectionClose(ReplyCode.FrameError), fm);
        }
    }
}
