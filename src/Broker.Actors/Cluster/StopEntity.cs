namespace Broker.Actors.Cluster;

/// <summary>
/// The message a passivating entity stops on. Not PoisonPill: a persistent actor must finish
/// (and stash behind) a pending journal write before it stops.
/// </summary>
public sealed class StopEntity : IClusterMessage
{
    public static readonly StopEntity Instance = new();

    private StopEntity()
    {
    }
}
