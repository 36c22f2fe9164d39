namespace Broker.Actors.Stats;

/// <summary>
/// How long queues' journal writes take, from the write request to its completion, in
/// Prometheus's cumulative-bucket form (broker_journal_write_seconds). Any thread may observe.
/// </summary>
public sealed class JournalWriteHistogram
{
    /// <summary>Upper bounds in seconds: 0.25 ms (one fsync on a fast disk) up to 2.5 s.</summary>
    public static readonly double[] Bounds = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

    private readonly long[] _counts = new long[Bounds.Length + 1];
    private long _sumMicros;

    public void Observe(TimeSpan elapsed)
    {
        double seconds = elapsed.TotalSeconds;
        int i = 0;
        while (i < Bounds.Length && seconds > Bounds[i])
        {
            i++;
        }

        Interlocked.Increment(ref _counts[i]);
        Interlocked.Add(ref _sumMicros, (long)(elapsed.Ticks / 10));
    }

    /// <summary>Cumulative counts per bound (the last is +Inf, the total count) and the sum in seconds.</summary>
    public (long[] Cumulative, double Sum) Read()
    {
        var cumulative = new long[_counts.Length];
        long running = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            running += Volatile.Read(ref _counts[i]);
            cumulative[i] = running;
        }

        return (cumulative, Volatile.Read(ref _sumMicros) / 1e6);
    }
}
