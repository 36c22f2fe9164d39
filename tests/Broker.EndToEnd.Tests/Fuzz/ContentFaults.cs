using Broker.Protocol;
using Broker.Protocol.Methods;
using static Broker.EndToEnd.Tests.Fuzz.FaultKit;

namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>
/// Faults in the method -> header -> body sequence of content (RabbitMQ's command assembler):
/// frames out of order on a channel are 505 UNEXPECTED_FRAME. Content of two channels may
/// interleave; a message over the size limit closes only its channel.
/// </summary>
public static class ContentFaults
{
    /// <summary>BROKER_MAX_MESSAGE_SIZE of the node under test (the random sessions stay below it).</summary>
    public const int MaxMessageSize = 1 << 20;

    private static readonly int[] NotBasic = { 0, 10, 20, 40, 50, 85, 90, 61, 65535 };

    public static IEnumerable<Fault> All => new Fault[]
    {
        new("header-of-wrong-class", HeaderOfWrongClass),
        new("body-without-header", BodyWithoutHeader),
        new("header-without-method", HeaderWithoutMethod),
        new("method-inside-content", MethodInsideContent),
        new("body-beyond-declared-size", BodyBeyondDeclaredSize,
            "RabbitMQ keeps waiting for more body once the remaining size went below zero, so the session's close gets close-ok"),
        new("content-frame-on-channel-0", ContentFrameOnChannel0),
        new("interleaved-content", InterleavedContent),
        new("message-over-max-size", MessageOverMaxSize, "the node under test has a max message size of 1 MiB, RabbitMQ's is 128 MiB"),
    };

    private static List<FuzzFrame> PublishOnOne(Random rng, uint fm, int size) =>
        SessionBuilder.Publish(rng, 1, "nowhere", size, fm);

    private static FuzzCase HeaderOfWrongClass(Random rng)
    {
        uint fm = FrameMax(rng);
        var frames = LeadIn(rng, fm);
        var publish = PublishOnOne(rng, fm, rng.Next(100));
        ushort cls = (ushort)NotBasic[rng.Next(NotBasic.Length)];
        publish[1] = FuzzFrame.Header(1, (ulong)publish.Skip(2).Sum(b => b.Payload.Length), new BasicProperties(), cls);
        frames.AddRange(publish);
        return Case("header-of-wrong-class", $"class {cls}", Prefix.ChannelOpen, frames,
            Expectation.ConnectionClose(ReplyCode.UnexpectedFrame), fm);
    }

    private static FuzzCase BodyWithoutHeader(Random rng)
    {
        uint fm = FrameMax(rng);
        var frames = LeadIn(rng, fm);
        var publish = PublishOnOne(rng, fm, rng.Next(1, 1000));
        publish.RemoveAt(1);
        frames.AddRange(publish);
        return Case("body-without-header", "", Prefix.ChannelOpen, frames, Expectation.ConnectionClose(ReplyCode.UnexpectedFrame), fm);
    }

    private static FuzzCase HeaderWithoutMethod(Random rng)
    {
        uint fm = FrameMax(rng);
        var frames = LeadIn(rng, fm);
        var publish = PublishOnOne(rng, fm, rng.Next(1000));
        publish.RemoveAt(0);
        frames.AddRange(publish);
        return Case("header-without-method", "", Prefix.ChannelOpen, frames, Expectation.ConnectionClose(ReplyCode.UnexpectedFrame), fm);
    }

    /// <summary>A method frame on the channel after basic.publish, or after its header while body bytes are owed.</summary>
    private static FuzzCase MethodInsideContent(Random rng)
    {
        uint fm = FrameMax(rng);
        var frames = LeadIn(rng, fm);
        var publish = PublishOnOne(rng, fm, rng.Next(1, 3 * (int)fm));
        int cut = rng.Next(1, publish.Count); // after the method, the header or some body frames, before the last
        var intruder = rng.Next(2) == 0
            ? FuzzFrame.Method(1, new BasicQos { PrefetchCount = 1 })
            : SessionBuilder.Publish(rng, 1, "nowhere", 10, fm)[0];
        frames.AddRange(publish.Take(cut));
        frames.Add(intruder);
        frames.AddRange(publish.Skip(cut));
        return Case("method-inside-content", $"{intruder} after {cut} of {publish.Count} content frames", Prefix.ChannelOpen, frames,
            Expectation.ConnectionClose(ReplyCode.UnexpectedFrame), fm);
    }

    /// <summary>
    /// The last body frame runs past the size the header declared (a body frame after the body is
    /// complete is body-without-header instead): the body no longer adds up, 501.
    /// </summary>
    private static FuzzCase BodyBeyondDeclaredSize(Random rng)
    {
        uint fm = FrameMax(rng);
        var frames = LeadIn(rng, fm);
        var publish = PublishOnOne(rng, fm, rng.Next(2, 2 * (int)fm));
        var last = publish[^1];
        if (last.Payload.Length < 2)
        {
            return BodyBeyondDeclaredSize(rng);
        }

        int extra = rng.Next(1, last.Payload.Length);
        int declared = publish.Skip(2).Sum(b => b.Payload.Length) - extra;
        publish[1] = FuzzFrame.Header(1, (ulong)declared, new BasicProperties());
        frames.AddRange(publish);
        return Case("body-beyond-declared-size", $"{extra} bytes past a body of {declared}", Prefix.ChannelOpen, frames,
            Expectation.ConnectionClose(ReplyCode.FrameError), fm);
    }

    /// <summary>A content header or body on channel 0, where no content method can be.</summary>
    private static FuzzCase ContentFrameOnChannel0(Random rng)
    {
        uint fm = FrameMax(rng);
        var frames = LeadIn(rng, fm);
        var publish = PublishOnOne(rng, fm, rng.Next(1, 100));
        var stray = publish[rng.Next(1, publish.Count)];
        stray.Channel = 0;
        frames.Add(stray);
        return Case("content-frame-on-channel-0", stray.ToString(), Prefix.ChannelOpen, frames,
            Expectation.ConnectionClose(ReplyCode.UnexpectedFrame), fm);
    }

    /// <summary>
    /// Two channels' content frames interleaved, each channel's own in order: valid (content is
    /// assembled per channel), so nothing may fail.
    /// </summary>
    private static FuzzCase InterleavedContent(Random rng)
    {
        uint fm = FrameMax(rng);
        var frames = new List<FuzzFrame> { FuzzFrame.Method(2, new ChannelOpen()) };
        if (rng.Next(2) == 0)
        {
            frames.Add(FuzzFrame.Method(1, new ConfirmSelect()));
            frames.Add(FuzzFrame.Method(2, new ConfirmSelect()));
        }

        var a = new Queue<FuzzFrame>(SessionBuilder.Publish(rng, 1, "nowhere", rng.Next(1, 3 * (int)fm), fm));
        var b = new Queue<FuzzFrame>(SessionBuilder.Publish(rng, 2, "nowhere", rng.Next(1, 3 * (int)fm), fm));
        while (a.Count + b.Count > 0)
        {
            var from = a.Count == 0 ? b : b.Count == 0 ? a : rng.Next(2) == 0 ? a : b;
            frames.Add(from.Dequeue());
        }

        return Case("interleaved-content", "", Prefix.ChannelOpen, frames, Expectation.Accepted(), fm);
    }

    /// <summary>A header declaring more than the node's max message size: 406 on the channel, the connection goes on.</summary>
    private static FuzzCase MessageOverMaxSize(Random rng)
    {
        uint fm = FrameMax(rng);
        var frames = LeadIn(rng, fm);
        ulong size = MaxMessageSize + (ulong)rng.Next(1, 1 << 20);
        var publish = SessionBuilder.Publish(rng, 1, "nowhere", (int)size, fm);
        frames.AddRange(publish);
        return Case("message-over-max-size", $"{size} bytes", Prefix.ChannelOpen, frames,
            Expectation.ChannelClose(ReplyCode.PreconditionFailed, 1), fm);
    }
}
