using Broker.Protocol;

namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>A kind of targeted fault: its name and how to make one case of it from a random source.</summary>
/// <param name="ReferenceDiffers">Why RabbitMQ 3.10.8 answers otherwise (checked against it), or null where it answers the same.</param>
public sealed record Fault(string Kind, Func<Random, FuzzCase> Make, string? ReferenceDiffers = null);

/// <summary>What the targeted faults share: a frame_max to negotiate, a valid lead-in, the case itself.</summary>
public static class FaultKit
{
    /// <summary>
    /// The minimum, the broker's 131072 or something between. Not 0 ("no limit"): RabbitMQ refuses
    /// it when it has a limit of its own, so a session with it would not be valid there.
    /// </summary>
    public static uint FrameMax(Random rng) => rng.Next(3) switch
    {
        0 => FrameConstants.MinSize,
        1 => (uint)rng.Next(FrameConstants.MinSize, 65536),
        _ => FuzzCase.DefaultFrameMax,
    };

    /// <summary>A few valid operations on channel 1 before the fault, so it lands amid ordinary traffic.</summary>
    public static List<FuzzFrame> LeadIn(Random rng, uint frameMax) =>
        SessionBuilder.Operations(rng, frameMax, rng.Next(4), maxChannels: 1, close: false);

    /// <summary>A case of the frames followed by the session's connection.close.</summary>
    public static FuzzCase Case(string kind, string detail, Prefix prefix, IEnumerable<FuzzFrame> frames, Expectation expect,
        uint frameMax = FuzzCase.DefaultFrameMax) =>
        new(kind, detail, prefix, FuzzFrame.Serialize(frames.Append(SessionBuilder.Close())), expect, frameMax);

    /// <summary>A value of the range that is not in <paramref name="excluded"/>.</summary>
    public static int PickExcept(Random rng, int min, int maxExclusive, IReadOnlyCollection<int> excluded)
    {
        while (true)
        {
            int v = rng.Next(min, maxExclusive);
            if (!excluded.Contains(v))
            {
                return v;
            }
        }
    }
}
