using Broker.Actors.Topology;

namespace Broker.Actors.Policies;

/// <summary>
/// This node's replica of every vhost's policies (kept by the replicated topology, like the
/// RoutingTable), and which one applies to a queue or exchange.
/// </summary>
public sealed class PolicyTable
{
    private readonly VersionedMap<Policy> _policies = new();

    public bool Apply(Policy policy, TopologyVersion version) => _policies.Apply(policy.VHost, policy.Name, policy, version);

    public bool ApplyRemoval(string vhost, string name, TopologyVersion version) => _policies.Apply(vhost, name, null, version);

    public TopologyVersion VersionOf(string vhost, string name) => _policies.VersionOf(vhost, name);

    public IEnumerable<Policy> All(string vhost) =>
        _policies.All.Where(p => p.VHost == vhost).OrderByDescending(p => p.Priority).ThenBy(p => p.Name, StringComparer.Ordinal);

    /// <summary>The policy that applies to a queue or exchange: the matching one of highest priority, if any.</summary>
    public Policy? For(string vhost, string name, bool isQueue)
    {
        if (_policies.Count == 0)
        {
            return null;
        }

        Policy? best = null;
        foreach (var p in _policies.All)
        {
            if (p.VHost == vhost && p.Matches(name, isQueue) &&
                (best is null || p.Priority > best.Priority || (p.Priority == best.Priority && string.CompareOrdinal(p.Name, best.Name) < 0)))
            {
                best = p;
            }
        }

        return best;
    }

    public List<(string VHost, string Name, Policy? Value, TopologyVersion Version)> Snapshot() => _policies.Snapshot();
}
