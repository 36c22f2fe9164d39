using System.Globalization;

namespace Broker.Actors.Alarms;

/// <summary>
/// RabbitMQ's vm_memory_high_watermark: a fraction of the memory the process may have (the
/// machine's, or the container's limit), or an absolute size. Above it, the memory alarm is set.
/// </summary>
public readonly record struct MemoryWatermark(double? Relative, long? Absolute)
{
    public static readonly MemoryWatermark Default = new(0.4, null);

    /// <summary>"0.4" (a fraction, at most 1) or a size ("2GB", "512MiB", "1073741824").</summary>
    public static bool TryParse(string text, out MemoryWatermark watermark)
    {
        string s = text.Trim();
        // A bare number up to 1 is a fraction; a larger one is bytes, as in rabbitmqctl.
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double fraction) && fraction is >= 0 and <= 1)
        {
            watermark = new MemoryWatermark(fraction, null);
            return true;
        }

        watermark = default;
        if (!ByteSize.TryParse(s, out long bytes))
        {
            return false;
        }

        watermark = new MemoryWatermark(null, bytes);
        return true;
    }

    /// <summary>The limit in bytes for a process that may have <paramref name="total"/> bytes.</summary>
    public long LimitFor(long total) => Absolute ?? (long)(total * Relative!.Value);

    public override string ToString() => Absolute is { } bytes
        ? ByteSize.Format(bytes)
        : Relative!.Value.ToString("0.###", CultureInfo.InvariantCulture);
}
