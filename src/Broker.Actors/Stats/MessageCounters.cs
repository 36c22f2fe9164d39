namespace Broker.Actors.Stats;

/// <summary>
/// One object's message counters and their recent rates. The owning actor is the only writer of
/// <see cref="Values"/> (a plain increment on the hot path; for node totals and exchanges, the
/// sampler); the node's sampler reads them once a second and is the only writer of the rates.
/// A reader may see a count one increment behind.
/// </summary>
public sealed class MessageCounters
{
    /// <summary>Rates are the change over this many samples (one a second), as RabbitMQ's 5 s sample interval.</summary>
    public const int RateWindow = 5;

    public readonly long[] Values = new long[MessageStats.Count];

    private readonly RateCounter[] _rates = Enumerable.Range(0, MessageStats.Count).Select(_ => new RateCounter()).ToArray();

    /// <summary>Per-second rates over the last few seconds, in enum order.</summary>
    public double[] Rates => _rates.Select(r => r.Rate).ToArray();

    public void Increment(MessageStat stat) => Values[(int)stat]++;

    public long this[MessageStat stat] => Volatile.Read(ref Values[(int)stat]);

    /// <summary>A copy of the counters (each read once).</summary>
    public long[] Snapshot()
    {
        var copy = new long[MessageStats.Count];
        for (int i = 0; i < copy.Length; i++)
        {
            copy[i] = Volatile.Read(ref Values[i]);
        }

        return copy;
    }

    /// <summary>The sampler's tick: records the counters now and recomputes the rates over the window.</summary>
    public void Sample(long nowMs)
    {
        for (int i = 0; i < _rates.Length; i++)
        {
            _rates[i].Sample(Volatile.Read(ref Values[i]), nowMs);
        }
    }
}
