namespace Broker.Actors.Stats;

/// <summary>The per-second rate of one growing total, over the last few one-second samples (the sampler is the only caller).</summary>
public sealed class RateCounter
{
    private readonly long[] _values = new long[MessageCounters.RateWindow + 1];
    private readonly long[] _at = new long[MessageCounters.RateWindow + 1];
    private int _samples;
    private double _rate;

    public double Rate => Volatile.Read(ref _rate);

    public void Sample(long total, long nowMs)
    {
        int slot = _samples % _values.Length;
        _values[slot] = total;
        _at[slot] = nowMs;
        _samples++;
        int oldest = _samples > _values.Length ? _samples % _values.Length : 0;
        long elapsed = nowMs - _at[oldest];
        Volatile.Write(ref _rate, elapsed > 0 ? Math.Max(0, total - _values[oldest]) * 1000.0 / elapsed : 0);
    }
}
