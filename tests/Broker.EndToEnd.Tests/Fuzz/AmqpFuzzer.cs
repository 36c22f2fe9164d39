namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>
/// Makes the fuzz cases. Case n of a run is made from a random source seeded by (seed, n) alone,
/// so one failing case can be made again without the ones before it. About half are targeted
/// faults with an exact expected answer (the kinds in turn), the rest random damage to valid
/// sessions, valid sessions sent as they are, and sessions cut off mid-frame.
/// </summary>
public sealed class AmqpFuzzer
{
    public static readonly IReadOnlyList<Fault> TargetedFaults =
        FramingFaults.All.Concat(ContentFaults.All).Concat(MethodFaults.All).Concat(HandshakeFaults.All).ToList();

    private readonly int _seed;

    public AmqpFuzzer(int seed) => _seed = seed;

    /// <summary>
    /// A random source for case <paramref name="index"/> of the run with <paramref name="seed"/>:
    /// SplitMix64 of the two, the same in every process (HashCode.Combine is seeded per process).
    /// </summary>
    public static Random RandomFor(int seed, long index)
    {
        ulong z = ((ulong)(uint)seed << 32 ^ (ulong)index) + 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        z ^= z >> 31;
        return new Random((int)z ^ (int)(z >> 32));
    }

    /// <summary>Case <paramref name="index"/> of this run, and the random source that goes on to drive its sending.</summary>
    public (FuzzCase Case, Random Rng) Make(long index)
    {
        var rng = RandomFor(_seed, index);
        int roll = rng.Next(100);
        FuzzCase c = roll switch
        {
            < 50 => TargetedFaults[(int)(index % TargetedFaults.Count)].Make(rng),
            < 60 => Valid(rng),
            < 68 => CutOff(rng),
            _ => RandomMutations.Make(rng),
        };
        return (c, rng);
    }

    /// <summary>A random valid session: nothing may fail.</summary>
    public static FuzzCase Valid(Random rng)
    {
        uint fm = FaultKit.FrameMax(rng);
        var bytes = FuzzFrame.Serialize(SessionBuilder.Operations(rng, fm, rng.Next(1, 15)));
        return new FuzzCase("valid-session", "", Prefix.ChannelOpen, bytes, Expectation.Accepted(), fm);
    }

    /// <summary>A valid session, handshake included or not, cut at a random byte and the socket closed.</summary>
    public static FuzzCase CutOff(Random rng)
    {
        uint fm = FaultKit.FrameMax(rng);
        bool whole = rng.Next(3) == 0;
        var frames = whole ? SessionBuilder.Handshake(fm) : new List<FuzzFrame>();
        frames.AddRange(SessionBuilder.Operations(rng, fm, rng.Next(1, 10)));
        var bytes = FuzzFrame.Serialize(frames);
        if (whole)
        {
            bytes = Broker.Protocol.FrameWriter.ProtocolHeader.Concat(bytes).ToArray();
        }

        int cut = rng.Next(bytes.Length);
        return new FuzzCase("mid-frame-disconnect", $"cut at byte {cut} of {bytes.Length}", whole ? Prefix.None : Prefix.ChannelOpen,
            bytes[..cut], Expectation.HangUp(), fm, HangUp: true);
    }
}
