using System.Diagnostics;

namespace Broker.Bench;

/// <summary>
/// Publish-to-confirm latency of one producer, and the stall detector: the longest confirm and the
/// wall-clock moment it arrived, so it can be matched with the broker's log (a journal write the
/// node logged as slow, a GC, a checkpoint). Confirms of one producer may complete on several
/// thread-pool threads at once, hence the lock (uncontended with one confirm in flight).
/// </summary>
internal sealed class ConfirmLatency
{
    private readonly object _gate = new();
    private readonly LatencyHistogram _histogram = new();
    private long _longestMicros;
    private DateTime _longestAt;

    public void Record(long sent, long confirmed)
    {
        long micros = Stopwatch.GetElapsedTime(sent, confirmed).Ticks / TimeSpan.TicksPerMicrosecond;
        lock (_gate)
        {
            _histogram.Record(micros);
            if (micros > _longestMicros)
            {
                _longestMicros = micros;
                _longestAt = DateTime.UtcNow;
            }
        }
    }

    /// <summary>Adds this producer's figures to the run's (after the producers stopped).</summary>
    public void AddTo(LatencyHistogram histogram, ref long longestMicros, ref DateTime longestAt)
    {
        lock (_gate)
        {
            histogram.Add(_histogram);
            if (_longestMicros > longestMicros)
            {
                longestMicros = _longestMicros;
                longestAt = _longestAt;
            }
        }
    }
}
