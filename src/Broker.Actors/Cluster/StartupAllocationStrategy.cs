using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Sharding;

namespace Broker.Actors.Cluster;

/// <summary>
/// The default (least-shards) allocation, with two changes.
/// - On a tie, a shard goes to another node than the coordinator's own (the oldest node): when
///   that node dies the coordinator has to move first, which costs its queues about half a
///   second more of failover (docs/benchmarks.md), so it takes a shard only when it has fewer.
/// - While the cluster is still starting: until
/// every seed node's region has registered (or a grace period passed), a shard is not allocated
/// yet (the coordinator retries). On a cold start of the whole cluster the coordinator would
/// otherwise hand every remembered queue to the first node up and move a share of them on later,
/// so each of those queues would be recovered twice; this way each queue is recovered once, on
/// the node that keeps it. A node that joins a running cluster meets a strategy whose grace has
/// long passed, a coordinator that moves to a node already serving clients (its old node died)
/// does not wait at all, and a cluster that lost a seed for good waits only the grace period.
/// </summary>
public sealed class StartupAllocationStrategy : IShardAllocationStrategy, IActorSystemDependentAllocationStrategy
{
    private readonly IShardAllocationStrategy _inner;
    private readonly int _expectedRegions;
    private readonly DateTime _graceEnds;
    private readonly Func<bool> _serving;
    private Akka.Cluster.Cluster? _cluster;
    private bool _formed;

    /// <param name="serving">Whether this node serves clients already: then the cluster has formed.</param>
    public StartupAllocationStrategy(IShardAllocationStrategy inner, int expectedRegions, TimeSpan grace, Func<bool> serving)
    {
        _inner = inner;
        _expectedRegions = expectedRegions;
        _graceEnds = DateTime.UtcNow + grace;
        _serving = serving;
    }

    public void Start(ActorSystem system)
    {
        _cluster = Akka.Cluster.Cluster.Get(system);
        if (_inner is IActorSystemDependentAllocationStrategy dependent)
        {
            dependent.Start(system);
        }
    }

    public Task<IActorRef> AllocateShard(IActorRef requester, string shardId,
        IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations)
    {
        // Only while the cluster forms: once every seed's region was there, a node that dies
        // (even seconds later) must not hold up the re-allocation of its shards.
        _formed |= currentShardAllocations.Count >= _expectedRegions || _serving();
        if (!_formed && DateTime.UtcNow < _graceEnds)
        {
            // A null region that arrives asynchronously is "allocation failed, it will be retried"
            // (a synchronous null is not handled by the coordinator).
            return Task.Delay(50).ContinueWith(_ => (IActorRef)null!, TaskScheduler.Default);
        }

        return _inner.AllocateShard(requester, shardId, AwayFromCoordinator(currentShardAllocations));
    }

    /// <summary>Leaves this (the coordinator's) node out when an Up node with as few shards or fewer can take the shard.</summary>
    private IImmutableDictionary<IActorRef, IImmutableList<string>> AwayFromCoordinator(
        IImmutableDictionary<IActorRef, IImmutableList<string>> allocations)
    {
        var local = allocations.Keys.FirstOrDefault(r => r.Path.Address.HasLocalScope);
        if (local is null || _cluster is null)
        {
            return allocations;
        }

        int localCount = allocations[local].Count;
        var up = _cluster.State.Members.Where(m => m.Status == Akka.Cluster.MemberStatus.Up).Select(m => m.Address).ToHashSet();
        bool another = allocations.Any(kv => !kv.Key.Equals(local) && kv.Value.Count <= localCount && up.Contains(kv.Key.Path.Address));
        return another ? allocations.Remove(local) : allocations;
    }

    public Task<IImmutableSet<string>> Rebalance(IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations,
        IImmutableSet<string> rebalanceInProgress) => _inner.Rebalance(currentShardAllocations, rebalanceInProgress);
}
