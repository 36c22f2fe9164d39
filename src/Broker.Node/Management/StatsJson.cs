using System.Text.Json.Nodes;
using Broker.Actors.Stats;

namespace Broker.Node.Management;

/// <summary>RabbitMQ's message_stats objects: each counter's total and, beside it, <c>name_details: {rate}</c>.</summary>
public static class StatsJson
{
    public static readonly MessageStat[] QueueStats =
        [MessageStat.Publish, MessageStat.Deliver, MessageStat.DeliverNoAck, MessageStat.Get, MessageStat.GetNoAck, MessageStat.GetEmpty, MessageStat.Ack, MessageStat.Redeliver];

    public static readonly MessageStat[] ChannelStats =
    [
        MessageStat.Publish, MessageStat.Confirm, MessageStat.ReturnUnroutable, MessageStat.DropUnroutable, MessageStat.Deliver,
        MessageStat.DeliverNoAck, MessageStat.Get, MessageStat.GetNoAck, MessageStat.GetEmpty, MessageStat.Ack, MessageStat.Redeliver,
    ];

    public static readonly MessageStat[] ExchangeStats = [MessageStat.PublishIn, MessageStat.PublishOut];

    public static JsonObject MessageStats(long[] totals, double[] rates, MessageStat[] which)
    {
        var result = new JsonObject();
        foreach (var stat in which)
        {
            Add(result, Broker.Actors.Stats.MessageStats.Names[(int)stat], totals[(int)stat], rates[(int)stat]);
        }

        if (which.Contains(MessageStat.Deliver))
        {
            Add(result, "deliver_get", Broker.Actors.Stats.MessageStats.DeliverGet(totals), Broker.Actors.Stats.MessageStats.DeliverGet(rates));
        }

        return result;
    }

    public static JsonObject Rate(double rate) => new() { ["rate"] = Math.Round(rate, 1) };

    private static void Add(JsonObject target, string name, long total, double rate)
    {
        target[name] = total;
        target[name + "_details"] = Rate(rate);
    }
}
