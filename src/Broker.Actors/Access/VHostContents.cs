using Akka.Actor;
using Akka.Cluster.Sharding;
using Broker.Actors.Cluster;
using Broker.Actors.Exchanges;
using Broker.Actors.Policies;
using Broker.Actors.Queues;

namespace Broker.Actors.Access;

/// <summary>
/// What goes with a deleted vhost: every queue (and its messages), exchange and policy in it,
/// wherever in the cluster they live. Runs after the vhost left the access store, so nothing new
/// can be declared there meanwhile (its connections are being closed on every node).
/// </summary>
public static class VHostContents
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Deletes them all; the number of queues, exchanges and policies deleted.</summary>
    public static async Task<(int Queues, int Exchanges, int Policies)> DeleteAsync(BrokerContext broker, string vhost)
    {
        var queues = broker.Queues.All.Where(q => q.Definition.VHost == vhost).ToList();
        await Task.WhenAll(queues.Select(q =>
        {
            var delete = new DeleteQueue(false, false, DeleteQueue.ByBroker);
            // A sharded queue is reached through its region even while it fails over; a node-local one directly.
            return q.NodeLocal && q.Available
                ? q.Ref.Ask<object>(delete, Timeout)
                : broker.QueueRegion.Ask<object>(new ShardingEnvelope(EntityIds.For(vhost, q.Name), delete), Timeout);
        }));

        var exchanges = broker.Routes.All(vhost).Select(r => r.Name).ToList();
        await Task.WhenAll(exchanges.Select(name =>
            broker.ExchangeRegion.Ask<object>(new ShardingEnvelope(EntityIds.For(vhost, name), new DeleteExchange(false)), Timeout)));

        var policies = broker.Policies.All(vhost).Select(p => p.Name).ToList();
        await Task.WhenAll(policies.Select(name =>
            broker.PolicyRegion.Ask<object>(new ShardingEnvelope(EntityIds.For(vhost, name), new ClearPolicy(vhost, name)), Timeout)));
        return (queues.Count, exchanges.Count, policies.Count);
    }
}
