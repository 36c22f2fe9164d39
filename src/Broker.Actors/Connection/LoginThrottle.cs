using System.Collections.Concurrent;
using System.Net;

namespace Broker.Actors.Connection;

/// <summary>
/// Slows password guessing: after a few failed logins in a row from one address, the refusal of
/// each further one is held back, longer and longer (up to MaxDelay); a successful login from the
/// address, or a quiet minute, starts it afresh. The connection actor waits on a timer, so a
/// held-back refusal costs no thread.
/// </summary>
public sealed class LoginThrottle
{
    public const int FreeFailures = 3;
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private const int MaxTracked = 10_000;

    private readonly ConcurrentDictionary<IPAddress, (int Count, long Last)> _failures = new();

    /// <summary>Counts a failure; the delay before refusing (zero for the first few) and the number of failures in a row.</summary>
    public TimeSpan Failed(EndPoint? remote, out int failures)
    {
        failures = 1;
        if (remote is not IPEndPoint ip)
        {
            return TimeSpan.Zero;
        }

        long now = Environment.TickCount64;
        if (_failures.Count >= MaxTracked)
        {
            Prune(now);
        }

        var entry = _failures.AddOrUpdate(ip.Address, _ => (1, now),
            (_, old) => (now - old.Last > Window.TotalMilliseconds ? 1 : old.Count + 1, now));
        failures = entry.Count;
        if (entry.Count <= FreeFailures)
        {
            return TimeSpan.Zero;
        }

        double seconds = Math.Pow(2, Math.Min(entry.Count - FreeFailures - 1, 10));
        return TimeSpan.FromSeconds(Math.Min(seconds, MaxDelay.TotalSeconds));
    }

    public void Succeeded(EndPoint? remote)
    {
        if (remote is IPEndPoint ip)
        {
            _failures.TryRemove(ip.Address, out _);
        }
    }

    private void Prune(long now)
    {
        foreach (var (address, entry) in _failures)
        {
            if (now - entry.Last > Window.TotalMilliseconds)
            {
                _failures.TryRemove(address, out _);
            }
        }
    }
}
