namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>How much of a valid handshake the fuzzer completes, waiting for each answer, before it sends the case's bytes.</summary>
public enum Prefix
{
    /// <summary>Nothing: the case's bytes start where the protocol header belongs.</summary>
    None,

    /// <summary>Protocol header sent, connection.start received.</summary>
    Started,

    /// <summary>start-ok (PLAIN guest) sent, connection.tune received.</summary>
    Tuned,

    /// <summary>tune-ok and connection.open sent, open-ok received.</summary>
    Opened,

    /// <summary>Also channel 1 opened.</summary>
    ChannelOpen,
}

/// <summary>
/// One fuzzed connection: the handshake prefix, the bytes sent after it, whether the fuzzer hangs
/// up right after sending them (a mid-frame disconnect), and what the broker must answer.
/// </summary>
/// <param name="Kind">The mutation's name, e.g. "bad-frame-end" (failures are grouped by it).</param>
/// <param name="Detail">What exactly was changed, for the failure report.</param>
/// <param name="FrameMax">frame_max sent in tune-ok.</param>
public sealed record FuzzCase(string Kind, string Detail, Prefix Prefix, byte[] Bytes, Expectation Expect,
    uint FrameMax = FuzzCase.DefaultFrameMax, bool HangUp = false)
{
    public const uint DefaultFrameMax = 131072;

    public override string ToString() =>
        $"{Kind}: {Detail} (after {Prefix}, frame_max {FrameMax}, {Bytes.Length} bytes{(HangUp ? ", then hang up" : string.Empty)}; expect {Expect})";
}
