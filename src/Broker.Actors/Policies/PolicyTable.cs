using System.Collections.Concurrent;
using Broker.Actors.Routing;
using Broker.Actors.Topology;
using Broker.Protocol;

namespace Broker.Actors.Policies;

/// <summary>
/// This node's replica of every vhost's policies (kept by the replicated topology, like the
/// RoutingTable), and which one applies to a queue or exchange. Written by the topology actor,
/// read by queues and by channels routing unroutable messages: readers take an immutable array,
/// and an exchange's alternate exchange is looked up once per policy change, not per message.
/// </summary>
public sealed class PolicyTable
{
    private readonly VersionedMap<Policy> _policies = new();
    private volatile Policy[] _all = Array.Empty<Policy>();
    private volatile ConcurrentDictionary<(string VHost, string Exchange), Binding?> _alternates = new();

    public bool Apply(Policy policy, TopologyVersion version) => Changed(_policies.Apply(policy.VHost, policy.Name, policy, version));

    public bool ApplyRemoval(string vhost, string name, TopologyVersion version) => Changed(_policies.Apply(vhost, name, null, version));

    public TopologyVersion VersionOf(string vhost, string name) => _policies.VersionOf(vhost, name);

    public IEnumerable<Policy> All(string vhost) =>
        _all.Where(p => p.VHost == vhost).OrderByDescending(p => p.Priority).ThenBy(p => p.Name, StringComparer.Ordinal);

    /// <summary>The policy that applies to a queue or exchange: the matching one of highest priority, if any.</summary>
    public Policy? For(string vhost, string name, bool isQueue)
    {
        Policy? best = null;
        foreach (var p in _all)
        {
            if (p.VHost == vhost && p.Matches(name, isQueue) &&
                (best is null || p.Priority > best.Priority || (p.Priority == best.Priority && string.CompareOrdinal(p.Name, best.Name) < 0)))
            {
                best = p;
            }
        }

        return best;
    }

    /// <summary>
    /// A binding to the alternate exchange a policy gives an exchange, if any (made once and
    /// cached until the policies change, so an unroutable message costs a lookup).
    /// </summary>
    public Binding? AlternateExchangeFor(string vhost, string exchange)
    {
        // The cache first, then the policies: a change replaces the policies before the cache.
        var cache = _alternates;
        if (_all.Length == 0)
        {
            return null;
        }

        return cache.GetOrAdd((vhost, exchange), key =>
            For(key.VHost, key.Exchange, isQueue: false)?.Text("alternate-exchange") is { } alternate
                ? new Binding(key.Exchange, alternate, ToExchange: true, string.Empty, new FieldTable())
                : null);
    }

    public List<(string VHost, string Name, Policy? Value, TopologyVersion Version)> Snapshot() => _policies.Snapshot();

    private bool Changed(bool applied)
    {
        if (applied)
        {
            _all = _policies.All.ToArray();
            _alternates = new ConcurrentDictionary<(string VHost, string Exchange), Binding?>();
        }

        return applied;
    }
}
