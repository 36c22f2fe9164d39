namespace Broker.Actors.Stats;

/// <summary>
/// The message counters RabbitMQ's management API reports under <c>message_stats</c>; each
/// connection, channel, queue and exchange keeps the ones that apply to it.
/// </summary>
public enum MessageStat
{
    Publish,
    PublishIn,
    PublishOut,
    Confirm,
    ReturnUnroutable,
    DropUnroutable,
    Deliver,
    DeliverNoAck,
    Get,
    GetNoAck,
    GetEmpty,
    Ack,
    Redeliver,

    /// <summary>Publishes on channels in confirm mode (Prometheus's received_confirm; not in message_stats).</summary>
    ReceivedConfirm,
}

public static class MessageStats
{
    public const int Count = (int)MessageStat.ReceivedConfirm + 1;

    /// <summary>The field names of message_stats, in enum order.</summary>
    public static readonly string[] Names =
    [
        "publish", "publish_in", "publish_out", "confirm", "return_unroutable", "drop_unroutable",
        "deliver", "deliver_no_ack", "get", "get_no_ack", "get_empty", "ack", "redeliver", "received_confirm",
    ];

    /// <summary>RabbitMQ's deliver_get: every message handed to a client, by consume or by get.</summary>
    public static long DeliverGet(IReadOnlyList<long> values) =>
        values[(int)MessageStat.Deliver] + values[(int)MessageStat.DeliverNoAck] +
        values[(int)MessageStat.Get] + values[(int)MessageStat.GetNoAck];

    public static double DeliverGet(IReadOnlyList<double> rates) =>
        rates[(int)MessageStat.Deliver] + rates[(int)MessageStat.DeliverNoAck] +
        rates[(int)MessageStat.Get] + rates[(int)MessageStat.GetNoAck];
}
