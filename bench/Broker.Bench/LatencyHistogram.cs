using System.Numerics;

namespace Broker.Bench;

/// <summary>
/// Fixed-size log-linear histogram of microsecond values (HdrHistogram-like): values below 128 have
/// their own bucket, above that every power of two is split into 64 linear sub-buckets, so a reported
/// value is within 1/64 (1.6 %) of the true one. Covers up to 2^46 us. Not thread-safe: one per consumer, merged at the end.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBits = 7;
    private const int Sub = 1 << SubBits;       // 128 exact buckets
    private const int Half = Sub / 2;           // 64 sub-buckets per octave above that
    private const int MaxShift = 40;
    private readonly long[] _counts = new long[Sub + (MaxShift * Half)];

    public long Count { get; private set; }
    public long Max { get; private set; }
    public long Min { get; private set; } = long.MaxValue;
    public double Sum { get; private set; }

    public void Record(long micros)
    {
        if (micros < 0)
        {
            micros = 0;
        }
        _counts[Index(micros)]++;
        Count++;
        Sum += micros;
        if (micros > Max)
        {
            Max = micros;
        }
        if (micros < Min)
        {
            Min = micros;
        }
    }

    public void Add(LatencyHistogram other)
    {
        for (int i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }
        Count += other.Count;
        Sum += other.Sum;
        Max = Math.Max(Max, other.Max);
        Min = Math.Min(Min, other.Min);
    }

    /// <summary>Value at percentile p (0..100) in microseconds: highest value of the bucket holding that rank, capped at the max seen.</summary>
    public long Percentile(double p)
    {
        if (Count == 0)
        {
            return 0;
        }
        long rank = Math.Max(1, (long)Math.Ceiling(p / 100.0 * Count));
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(HighValue(i), Max);
            }
        }
        return Max;
    }

    public double Mean => Count == 0 ? 0 : Sum / Count;

    private static int Index(long v)
    {
        if (v < Sub)
        {
            return (int)v;
        }
        int msb = 63 - BitOperations.LeadingZeroCount((ulong)v);
        int shift = msb - SubBits + 1;          // v >> shift is in [Half, Sub)
        if (shift > MaxShift)
        {
            return Sub + (MaxShift * Half) - 1;
        }
        return Sub + ((shift - 1) * Half) + (int)((v >> shift) - Half);
    }

    private static long HighValue(int index)
    {
        if (index < Sub)
        {
            return index;
        }
        int k = index - Sub;
        int shift = (k / Half) + 1;
        long sub = (k % Half) + Half;
        return (sub << shift) + (1L << shift) - 1;
    }
}
