namespace Broker.Actors.Access;

/// <summary>A virtual host and its limits (RabbitMQ's vhost-limits: a negative limit is no limit).</summary>
public sealed record VirtualHost(string Name, string Description, long MaxConnections = -1, long MaxQueues = -1);
