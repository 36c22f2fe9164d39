namespace Broker.Actors.Cluster;

/// <summary>
/// Marks a message that may cross nodes of the broker's cluster (commands to sharded queue and
/// exchange entities and their answers). Such messages are written by
/// <see cref="ClusterMessageSerializer"/>, bound to this interface in hocon/akka.conf.
/// </summary>
public interface IClusterMessage
{
}
