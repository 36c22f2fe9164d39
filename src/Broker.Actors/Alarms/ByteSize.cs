using System.Globalization;

namespace Broker.Actors.Alarms;

/// <summary>
/// Sizes as RabbitMQ's configuration writes them: a number of bytes, optionally with a unit.
/// kB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB (and k, K, M, G, T alone) of 1024.
/// </summary>
public static class ByteSize
{
    private static readonly (string Suffix, long Factor)[] Units =
    {
        ("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30), ("TiB", 1L << 40),
        ("kB", 1_000), ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000),
        ("k", 1L << 10), ("K", 1L << 10), ("M", 1L << 20), ("G", 1L << 30), ("T", 1L << 40),
    };

    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        string s = text.Trim();
        long factor = 1;
        foreach (var (suffix, f) in Units)
        {
            if (s.EndsWith(suffix, StringComparison.Ordinal))
            {
                s = s[..^suffix.Length].TrimEnd();
                factor = f;
                break;
            }
        }

        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double n) || n < 0 || double.IsInfinity(n))
        {
            return false;
        }

        double total = n * factor;
        if (total >= long.MaxValue)
        {
            return false;
        }

        bytes = (long)total;
        return true;
    }

    /// <summary>For logs: 2 TiB, 1.5 GiB, 300 MiB, 12 KiB, 512 B.</summary>
    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 40 => $"{bytes / (double)(1L << 40):0.#} TiB",
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.#} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.#} MiB",
        >= 1L << 10 => $"{bytes / (double)(1L << 10):0.#} KiB",
        _ => $"{bytes} B",
    };
}
