using Akka.Cluster.Sharding;


namespace Broker.Actors.Cluster;

/// <summary>
/// Every message to a queue or exchange entity travels in a ShardingEnvelope, which Akka's
/// extractor adapter unwraps before asking this class, so no other message type has an id.
/// </summary>
public sealed class EntityMessageExtractor : HashCodeMessageExtractor
{
    public EntityMessageExtractor(int maxShards) : base(maxShards)
    {
    }

    public override string? EntityId(object message) => null;
}
