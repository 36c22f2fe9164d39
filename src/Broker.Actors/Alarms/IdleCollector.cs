namespace Broker.Actors.Alarms;

/// <summary>
/// Gives memory back after a burst: the GC collects only when the program allocates, so a node that
/// went quiet after a burst (a backlog filled and paged out, a queue drained) keeps the garbage of
/// that burst in its heap, and in its resident memory, until traffic returns. When nothing was
/// allocated for a while and the heap holds much more than the last full collection left, one
/// full compacting collection runs (RabbitMQ hibernates idle queue processes for the same reason).
/// Called by AlarmMonitorActor every second, on its thread.
/// </summary>
public sealed class IdleCollector
{
    private const long Slack = 64L << 20;
    private static readonly TimeSpan QuietFor = TimeSpan.FromSeconds(5);

    private long _lastAllocated = -1;
    private long _quietSince = Environment.TickCount64;
    private long _afterLastCollection;

    /// <summary>True if it collected now.</summary>
    public bool Check()
    {
        long allocated = GC.GetTotalAllocatedBytes();
        long now = Environment.TickCount64;
        // Allocation below a MiB a second is quiet (the node's own timers allocate a little).
        if (allocated - _lastAllocated > 1 << 20)
        {
            _lastAllocated = allocated;
            _quietSince = now;
            return false;
        }

        long heap = GC.GetTotalMemory(forceFullCollection: false);
        if (now - _quietSince < QuietFor.TotalMilliseconds || heap < _afterLastCollection + Slack)
        {
            return false;
        }

        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        _afterLastCollection = GC.GetTotalMemory(forceFullCollection: false);
        _quietSince = now;
        return true;
    }
}
