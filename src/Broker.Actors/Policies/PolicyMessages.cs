using Broker.Actors.Cluster;

namespace Broker.Actors.Policies;

/// <summary>Set (create or replace) a policy; answered with PolicyDone or PolicyFailed.</summary>
public sealed record SetPolicy(Policy Policy) : IClusterMessage;

/// <summary>Remove a policy; answered with PolicyDone, or PolicyFailed when there is none of that name.</summary>
public sealed record ClearPolicy(string VHost, string Name) : IClusterMessage;

public sealed class PolicyDone : IClusterMessage
{
    public static readonly PolicyDone Instance = new();

    private PolicyDone()
    {
    }
}

public sealed record PolicyFailed(string Reason) : IClusterMessage;

/// <summary>Told every queue of a node (PolicyListeners) when its replica of the policies changed: queues re-check theirs.</summary>
public sealed class PoliciesChanged
{
    public static readonly PoliciesChanged Instance = new();

    private PoliciesChanged()
    {
    }
}
