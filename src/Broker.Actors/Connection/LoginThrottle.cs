using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Broker.Actors.Connection;

/// <summary>
/// Slows password guessing: after a few failed logins for one user name from one address (an
/// IPv6 client's whole /64) within a minute of each other, every further login answer for that
/// name to that address, refusal or success alike, is held back, longer and longer (up to
/// MaxDelay), so a guesser cannot tell a hit from a held-back miss sooner. A quiet minute starts
/// it afresh. Other users logging in from the same address (a NAT, a test machine) are not held
/// back by someone else's mistakes. The connection actor waits on a timer, so a held-back answer
/// costs no thread.
/// </summary>
public sealed class LoginThrottle
{
    public const int FreeFailures = 3;
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private const int MaxTracked = 10_000;

    private readonly ConcurrentDictionary<(IPAddress Address, string User), (int Count, long Last)> _failures = new();

    /// <summary>Counts a failed login for <paramref name="user"/>; the number of failures in a row for it from the address.</summary>
    public int Failed(EndPoint? remote, string? user)
    {
        if (Key(remote) is not { } address)
        {
            return 1;
        }

        var key = (address, user ?? string.Empty);
        long now = Environment.TickCount64;
        if (_failures.Count >= MaxTracked)
        {
            Prune(now);
        }

        return _failures.AddOrUpdate(key, _ => (1, now),
            (_, old) => (now - old.Last > Window.TotalMilliseconds ? 1 : old.Count + 1, now)).Count;
    }

    /// <summary>How long the next login answer for the user to this address is held back: zero until it failed more than FreeFailures times, then 1, 2, 4, 8 s.</summary>
    public TimeSpan DelayFor(EndPoint? remote, string? user)
    {
        if (Key(remote) is not { } address || !_failures.TryGetValue((address, user ?? string.Empty), out var entry) ||
            Environment.TickCount64 - entry.Last > Window.TotalMilliseconds || entry.Count <= FreeFailures)
        {
            return TimeSpan.Zero;
        }

        double seconds = Math.Pow(2, Math.Min(entry.Count - FreeFailures - 1, 10));
        return TimeSpan.FromSeconds(Math.Min(seconds, MaxDelay.TotalSeconds));
    }

    /// <summary>An IPv4 address as it is, an IPv6 one by its /64 (one host often has a whole /64).</summary>
    private static IPAddress? Key(EndPoint? remote)
    {
        if (remote is not IPEndPoint { Address: var address })
        {
            return null;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        byte[] bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes);
    }

    private void Prune(long now)
    {
        foreach (var (key, entry) in _failures)
        {
            if (now - entry.Last > Window.TotalMilliseconds)
            {
                _failures.TryRemove(key, out _);
            }
        }

        if (_failures.Count >= MaxTracked)
        {
            // Flooded from more addresses than it tracks: forget them rather than grow without bound.
            _failures.Clear();
        }
    }
}
