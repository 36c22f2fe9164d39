using System.Collections.Immutable;

namespace Broker.Actors.Alarms;

/// <summary>
/// This node's resource limits and the alarms in effect in the cluster, shared by the node's
/// actors. AlarmMonitorActor measures and writes; connections read the alarms when they open and
/// then follow <see cref="AlarmsChanged"/>; the admin endpoint changes the limits at run time
/// (rabbitmqctl's set_vm_memory_high_watermark and set_disk_free_limit).
/// </summary>
public sealed class ResourceAlarms
{
    private volatile Limits _limits;
    private ImmutableArray<NodeAlarm> _current = ImmutableArray<NodeAlarm>.Empty;

    public ResourceAlarms(MemoryWatermark watermark, long diskFreeLimit) => _limits = new Limits(watermark, diskFreeLimit);

    public MemoryWatermark MemoryWatermark => _limits.Watermark;

    /// <summary>Free disk space below this many bytes (in the data directory's file system) sets the disk alarm.</summary>
    public long DiskFreeLimit => _limits.DiskFreeLimit;

    /// <summary>Every alarm in effect in the cluster (this node's and its peers').</summary>
    public ImmutableArray<NodeAlarm> Current => _current;

    /// <summary>This node's memory limit in bytes now (a relative watermark follows the memory the process may have).</summary>
    public long MemoryLimit => MemoryWatermark.LimitFor(AvailableMemory);

    /// <summary>The memory the process may have: the machine's, or its container's limit (the GC reads the cgroup).</summary>
    public static long AvailableMemory => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    public void SetMemoryWatermark(MemoryWatermark watermark) => _limits = _limits with { Watermark = watermark };

    public void SetDiskFreeLimit(long bytes) => _limits = _limits with { DiskFreeLimit = bytes };

    // An ImmutableArray is one reference: reads are whole; the exchange is a full fence for the readers on other threads.
    internal void Publish(ImmutableArray<NodeAlarm> alarms) => ImmutableInterlocked.InterlockedExchange(ref _current, alarms);

    /// <summary>
    /// connection.blocked's reason, as RabbitMQ words it ("low on memory", "low on disk", "low on
    /// disk &amp; memory"), or null when no alarm is in effect.
    /// </summary>
    public static string? BlockReason(ImmutableArray<NodeAlarm> alarms)
    {
        bool memory = false, disk = false;
        foreach (var a in alarms)
        {
            memory |= a.Resource == AlarmResource.Memory;
            disk |= a.Resource == AlarmResource.Disk;
        }

        return (memory, disk) switch
        {
            (true, true) => "low on disk & memory",
            (true, false) => "low on memory",
            (false, true) => "low on disk",
            _ => null,
        };
    }

    private sealed record Limits(MemoryWatermark Watermark, long DiskFreeLimit);
}
