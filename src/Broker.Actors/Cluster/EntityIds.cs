namespace Broker.Actors.Cluster;

/// <summary>
/// Sharded entity ids for queues and exchanges: vhost and name joined by a separator that cannot
/// appear in an AMQP short string's meaningful content (NUL).
/// </summary>
public static class EntityIds
{
    private const char Separator = '\0';

    public static string For(string vhost, string name) => vhost + Separator + name;

    public static (string VHost, string Name) Parse(string entityId)
    {
        int i = entityId.IndexOf(Separator);
        return i < 0 ? ("/", entityId) : (entityId[..i], entityId[(i + 1)..]);
    }

    /// <summary>The part of a persistence id after its type prefix: vhost, '/', name.</summary>
    public static string PersistenceSuffix(string vhost, string name) => vhost + "|" + name;
}
