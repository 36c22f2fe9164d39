using Akka.Actor;
using Broker.Actors.Cluster;
using Broker.Actors.Policies;
using Broker.Actors.Queues;
using Broker.Actors.Routing;

namespace Broker.Actors.Topology;

/// <summary>A change to the replicated topology: applied on every node if its version is newer than what the node holds.</summary>
public interface ITopologyUpdate : IClusterMessage
{
    TopologyVersion Version { get; }

    bool ApplyTo(TopologyReplicator replica);
}

/// <summary>An exchange was declared or its bindings changed: its whole routing snapshot.</summary>
public sealed record RouteChanged(ExchangeDefinition Definition, IReadOnlyList<Binding> Bindings, TopologyVersion Version) : ITopologyUpdate
{
    public bool ApplyTo(TopologyReplicator replica) => replica.Routes.Apply(new ExchangeRoute(Definition, Bindings), Version);
}

public sealed record ExchangeGone(string VHost, string Name, TopologyVersion Version) : ITopologyUpdate
{
    public bool ApplyTo(TopologyReplicator replica) => replica.Routes.ApplyRemoval(VHost, Name, Version);
}

/// <summary>A queue was declared, recovered or moved: where its actor is now.</summary>
public sealed record QueueChanged(QueueDefinition Definition, IActorRef Ref, string? OwnerConnectionId, TopologyVersion Version)
    : ITopologyUpdate
{
    public bool ApplyTo(TopologyReplicator replica) => replica.Queues.Apply(new QueueInfo(Definition, Ref, OwnerConnectionId), Version);
}

public sealed record QueueGone(string VHost, string Name, TopologyVersion Version) : ITopologyUpdate
{
    public bool ApplyTo(TopologyReplicator replica) => replica.Queues.ApplyRemoval(VHost, Name, Version);
}

/// <summary>A policy was set: its whole definition.</summary>
public sealed record PolicyChanged(Policy Policy, TopologyVersion Version) : ITopologyUpdate
{
    public bool ApplyTo(TopologyReplicator replica) => replica.Policies.Apply(Policy, Version);
}

public sealed record PolicyGone(string VHost, string Name, TopologyVersion Version) : ITopologyUpdate
{
    public bool ApplyTo(TopologyReplicator replica) => replica.Policies.ApplyRemoval(VHost, Name, Version);
}

/// <summary>The answer of a node's TopologyActor once it applied an update (or a snapshot).</summary>
public sealed class TopologyApplied : IClusterMessage
{
    public static readonly TopologyApplied Instance = new();

    private TopologyApplied()
    {
    }
}

/// <summary>A node that joins asks an older one for everything it knows.</summary>
public sealed class TopologySnapshotRequest : IClusterMessage
{
    public static readonly TopologySnapshotRequest Instance = new();

    private TopologySnapshotRequest()
    {
    }
}

/// <summary>
/// Every entry a node holds, live or removed, with its version; Serving tells whether that node
/// finished starting (then its cluster's durable queues are running and need no waking).
/// </summary>
public sealed record TopologySnapshot(IReadOnlyList<ITopologyUpdate> Updates, bool Serving) : IClusterMessage;
