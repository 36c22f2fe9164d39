namespace Broker.Actors.Access;

/// <summary>RabbitMQ's refusals when a vhost's limits are reached.</summary>
public static class VHostLimits
{
    /// <summary>connection.open refused with 530 NOT_ALLOWED.</summary>
    public static string ConnectionLimitText(string vhost, string user, long limit) =>
        $"access to vhost '{vhost}' refused for user '{user}': connection limit ({limit}) is reached";

    /// <summary>queue.declare refused with 406 PRECONDITION_FAILED.</summary>
    public static string QueueLimitText(string vhost, string queue, long limit) =>
        $"cannot declare queue '{queue}': queue limit in vhost '{vhost}' ({limit}) is reached";
}
