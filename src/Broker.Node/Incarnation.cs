using System.Security.Cryptography;

namespace Broker.Node;

/// <summary>
/// The name of one run of a node process in the database: a restarted node is a new incarnation
/// and must not inherit its predecessor's lease or queues. Short, because PostgreSQL keeps only
/// 63 bytes of an application_name.
/// </summary>
public static class Incarnation
{
    public static string New() => "broker-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
}
