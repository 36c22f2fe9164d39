namespace Broker.Actors.Access;

/// <summary>
/// What a user may do in a vhost: regular expressions over resource names for configure
/// (declare, delete), write (publish, bind to) and read (consume, get, purge, bind from). As in
/// RabbitMQ a pattern matches anywhere in the name unless anchored, and an empty one matches nothing.
/// </summary>
public sealed record Permission(string User, string VHost, string Configure, string Write, string Read);

/// <summary>
/// Which routing keys a user may publish with (write) and bind with (read) on one topic exchange
/// of a vhost. {username} and {vhost} in a pattern stand for the user's name and the vhost.
/// </summary>
public sealed record TopicPermission(string User, string VHost, string Exchange, string Write, string Read);

/// <summary>The three kinds of permission an operation needs on a resource.</summary>
public enum AccessKind
{
    Configure,
    Write,
    Read,
}
