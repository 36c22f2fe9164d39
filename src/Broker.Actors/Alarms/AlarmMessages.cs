using System.Collections.Immutable;
using Akka.Actor;

namespace Broker.Actors.Alarms;

/// <summary>The resources a node raises an alarm for (RabbitMQ's resource_limit alarms).</summary>
public enum AlarmResource
{
    Memory,
    Disk,
}

/// <summary>One node's alarm: what the management API lists and what blocks publishers everywhere.</summary>
public sealed record NodeAlarm(string Node, AlarmResource Resource);

/// <summary>
/// Published on the event stream whenever the set of alarms in effect in the cluster changes;
/// every ConnectionActor listens (blocks publishers while any is in effect).
/// </summary>
public sealed record AlarmsChanged(ImmutableArray<NodeAlarm> Alarms) : INoSerializationVerificationNeeded;

/// <summary>A node's own alarms, sent to its peers' AlarmMonitorActor every second and at once when they change.</summary>
public sealed record NodeAlarms(string Node, ImmutableArray<AlarmResource> Resources) : Cluster.IClusterMessage;

/// <summary>Asks this node's AlarmMonitorActor to measure now (after its limits were changed); it answers with the alarms then in effect.</summary>
public sealed class CheckResources : INoSerializationVerificationNeeded
{
    public static readonly CheckResources Instance = new();
}
