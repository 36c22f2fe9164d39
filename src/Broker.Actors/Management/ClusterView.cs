using Akka.Actor;
using Akka.Cluster;

namespace Broker.Actors.Management;

/// <summary>
/// Every node's statistics report, collected for one management request: each member that is up
/// is asked in parallel; one that does not answer in time is listed as not running, the others'
/// numbers are still shown.
/// </summary>
public sealed class ClusterView
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(3);

    private ClusterView(List<NodeStatsReport> reports, List<string> unreachable)
    {
        Reports = reports;
        Unreachable = unreachable;
        Queues = reports.SelectMany(r => r.Queues).GroupBy(q => (q.VHost, q.Name)).ToDictionary(g => g.Key, g => g.First());
        foreach (var exchange in reports.SelectMany(r => r.Exchanges))
        {
            var key = (exchange.VHost, exchange.Name);
            if (!Exchanges.TryGetValue(key, out var sum))
            {
                Exchanges[key] = sum = (new long[exchange.Totals.Length], new double[exchange.Rates.Length]);
            }

            for (int i = 0; i < sum.Totals.Length; i++)
            {
                sum.Totals[i] += exchange.Totals[i];
                sum.Rates[i] += exchange.Rates[i];
            }
        }
    }

    public IReadOnlyList<NodeStatsReport> Reports { get; }

    /// <summary>Addresses of members that are part of the cluster but did not answer.</summary>
    public IReadOnlyList<string> Unreachable { get; }

    /// <summary>Each queue's numbers from the node that runs it.</summary>
    public IReadOnlyDictionary<(string VHost, string Name), QueueSample> Queues { get; }

    /// <summary>Each exchange's counters and rates, summed over the nodes whose channels published to it.</summary>
    public Dictionary<(string VHost, string Name), (long[] Totals, double[] Rates)> Exchanges { get; } = new();

    public IEnumerable<ConnectionSample> Connections => Reports.SelectMany(r => r.Connections);

    public IEnumerable<ChannelSample> Channels => Reports.SelectMany(r => r.Channels);

    public static async Task<ClusterView> CollectAsync(ActorSystem system, BrokerContext broker)
    {
        var state = Akka.Cluster.Cluster.Get(system).State;
        var down = state.Unreachable.Select(m => m.Address).ToHashSet();
        var members = state.Members
            .Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining or MemberStatus.Leaving)
            .Select(m => m.Address)
            .Where(a => !down.Contains(a))
            .ToList();
        var self = Akka.Cluster.Cluster.Get(system).SelfAddress;
        if (!members.Contains(self))
        {
            members.Add(self);
        }

        var asks = members.Select(async address =>
        {
            if (address.Equals(self))
            {
                // This node's own report needs no round trip through the actor.
                return (address, report: NodeStatsReader.Read(broker));
            }

            try
            {
                var selection = system.ActorSelection(new RootActorPath(address) / "user" / ManagementActor.ActorName);
                return (address, report: await selection.Ask<NodeStatsReport>(CollectNodeStats.Instance, AskTimeout));
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or ActorNotFoundException)
            {
                return (address, report: (NodeStatsReport?)null);
            }
        }).ToList();
        var results = await Task.WhenAll(asks);
        var reports = results.Where(r => r.report is not null).Select(r => r.report!).OrderBy(r => r.Node.Name, StringComparer.Ordinal).ToList();
        var unreachable = results.Where(r => r.report is null).Select(r => r.address.ToString())
            .Concat(down.Select(a => a.ToString())).ToList();
        return new ClusterView(reports, unreachable);
    }

    /// <summary>Asks every reachable node to close the named connection; true if one had it.</summary>
    public static async Task<bool> CloseConnectionAsync(ActorSystem system, string name, string reason)
    {
        var state = Akka.Cluster.Cluster.Get(system).State;
        var down = state.Unreachable.Select(m => m.Address).ToHashSet();
        var asks = state.Members.Select(m => m.Address).Where(a => !down.Contains(a)).Select(async address =>
        {
            try
            {
                var selection = system.ActorSelection(new RootActorPath(address) / "user" / ManagementActor.ActorName);
                return (await selection.Ask<ConnectionCloseResult>(new CloseConnectionByName(name, reason), AskTimeout)).Found;
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or ActorNotFoundException)
            {
                return false;
            }
        });
        return (await Task.WhenAll(asks)).Any(found => found);
    }
}
