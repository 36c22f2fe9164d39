using Broker.Actors.Cluster;
using Broker.Actors.Topology;

namespace Broker.Actors.Access;

/// <summary>Asks the AccessActor to apply a change; answered with AccessDone once every reachable node has it, or AccessFailed.</summary>
public sealed record ChangeAccess(AccessChange Change) : IClusterMessage;

/// <summary>
/// Start-up: answered with the store and its version (an AccessStoreChanged) once it is recovered
/// or created; the asking node applies it, whether or not the replication reached it yet.
/// </summary>
public sealed class EnsureAccess : IClusterMessage
{
    public static readonly EnsureAccess Instance = new();

    private EnsureAccess()
    {
    }
}

public sealed class AccessDone : IClusterMessage
{
    public static readonly AccessDone Instance = new();

    private AccessDone()
    {
    }
}

public sealed record AccessFailed(string Reason) : IClusterMessage;

/// <summary>The replicated topology's entry for the access store: the whole store.</summary>
public sealed record AccessStoreChanged(AccessStore Store, TopologyVersion Version) : ITopologyUpdate
{
    public bool ApplyTo(TopologyReplicator replica) => replica.ApplyAccess(Store, Version);
}

/// <summary>Journal event: the whole store after a change (only the latest is kept).</summary>
public sealed record AccessDefined(AccessStore Store) : Persistence.IJournalEvent;

/// <summary>Published on a node's event stream when its replica of the store changed, with the one it replaced.</summary>
public sealed record AccessReplaced(AccessSnapshot Previous, AccessSnapshot Current) : Akka.Actor.INoSerializationVerificationNeeded;
