using System.Collections.Concurrent;

namespace Broker.Actors.Topology;

/// <summary>
/// A node's copy of one kind of replicated topology entry (exchange routes or queues), keyed by
/// vhost and name. Reads are lock-free (channels read on every publish); writes are versioned and
/// serialised, and a removal leaves a tombstone with its version so that an older update arriving
/// late cannot bring the entry back.
/// </summary>
public sealed class VersionedMap<T> where T : class
{
    private readonly ConcurrentDictionary<(string VHost, string Name), T> _live = new();
    private readonly Dictionary<(string VHost, string Name), TopologyVersion> _versions = new();
    private readonly object _gate = new();

    public T? Find(string vhost, string name) => _live.TryGetValue((vhost, name), out var v) ? v : null;

    public int Count => _live.Count;

    public IReadOnlyCollection<T> All => _live.Values.ToList();

    public TopologyVersion VersionOf(string vhost, string name)
    {
        lock (_gate)
        {
            return _versions.TryGetValue((vhost, name), out var v) ? v : TopologyVersion.None;
        }
    }

    /// <summary>Stores <paramref name="value"/> (null = removed) if <paramref name="version"/> is newer than what is held.</summary>
    public bool Apply(string vhost, string name, T? value, TopologyVersion version)
    {
        lock (_gate)
        {
            var key = (vhost, name);
            if (_versions.TryGetValue(key, out var held) && held >= version)
            {
                return false;
            }

            _versions[key] = version;
            if (value is null)
            {
                _live.TryRemove(key, out _);
            }
            else
            {
                _live[key] = value;
            }

            return true;
        }
    }

    /// <summary>Replaces a live entry in place (same version), e.g. to mark a queue whose node went as unavailable.</summary>
    public void Update(string vhost, string name, Func<T, T?> change)
    {
        lock (_gate)
        {
            if (_live.TryGetValue((vhost, name), out var current))
            {
                if (change(current) is { } next)
                {
                    _live[(vhost, name)] = next;
                }
                else
                {
                    _live.TryRemove((vhost, name), out _);
                }
            }
        }
    }

    /// <summary>Every entry, live or removed, with its version (what a joining node copies).</summary>
    public List<(string VHost, string Name, T? Value, TopologyVersion Version)> Snapshot()
    {
        lock (_gate)
        {
            return _versions.Select(kv => (kv.Key.VHost, kv.Key.Name, _live.TryGetValue(kv.Key, out var v) ? v : null, kv.Value))
                .ToList();
        }
    }
}
