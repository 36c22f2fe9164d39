using System.Globalization;
using System.Text;
using Broker.Actors.Management;
using Broker.Actors.Stats;
using Microsoft.AspNetCore.Http;

namespace Broker.Node.Management;

/// <summary>
/// /metrics in Prometheus's text format, named and labelled as RabbitMQ's rabbitmq_prometheus
/// plugin does: each node exports its own connections, channels and the queues it runs (scrape
/// every node), per-queue metrics labelled vhost and queue. Open, like RabbitMQ's endpoint.
/// </summary>
public static class PrometheusMetrics
{
    public static async Task WriteAsync(HttpContext http, ManagementNode node)
    {
        var report = NodeStatsReader.Read(node.Broker.Context);
        var text = new StringBuilder(4096);
        Write(text, report, node.Broker.Context.Settings.ClusterName);
        WriteJournalCommits(text, JournalCommitCounters.For(node.Broker.Actors));
        http.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await http.Response.WriteAsync(text.ToString(), http.RequestAborted);
    }

    /// <summary>Group commit: commits and what they carried (rows per commit = rows / commits).</summary>
    public static void WriteJournalCommits(StringBuilder text, JournalCommitCounters c)
    {
        Counter(text, "broker_journal_commits_total", "Journal transactions committed (each one fsync)", Volatile.Read(ref c.Commits));
        Counter(text, "broker_journal_committed_rows_total", "Journal rows those transactions carried", Volatile.Read(ref c.Rows));
        Counter(text, "broker_journal_committed_bytes_total", "Event bytes those transactions carried", Volatile.Read(ref c.Bytes));
    }

    public static void Write(StringBuilder text, NodeStatsReport report, string cluster)
    {
        var n = report.Node;
        long Total(MessageStat s) => report.Totals[(int)s];
        Metric(text, "rabbitmq_identity_info", "gauge", "Node and cluster this endpoint belongs to",
            ($"rabbitmq_node=\"{Escape(n.Name)}\",rabbitmq_cluster=\"{Escape(cluster)}\"", 1));
        Metric(text, "rabbitmq_build_info", "gauge", "Broker version",
            ($"product_version=\"{Escape(OverviewApi.ProductVersion)}\",rabbitmq_version=\"{OverviewApi.CompatibleRabbitMqVersion}\"", 1));
        Gauge(text, "rabbitmq_connections", "Connections open on this node", report.Connections.Count);
        Gauge(text, "rabbitmq_channels", "Channels open on this node", report.Channels.Count);
        Gauge(text, "rabbitmq_consumers", "Consumers of the queues this node runs", report.Queues.Sum(q => q.Consumers));
        Gauge(text, "rabbitmq_queues", "Queues this node runs", report.Queues.Count);
        Gauge(text, "rabbitmq_global_publishers", "Channels of this node that have published", report.Channels.Count(c => c.Totals[(int)MessageStat.Publish] > 0));
        Gauge(text, "rabbitmq_global_consumers", "Consumers on this node's channels", report.Channels.Sum(c => c.Consumers.Count));
        Gauge(text, "rabbitmq_process_resident_memory_bytes", "Memory used by the node process", n.MemUsed);
        Gauge(text, "rabbitmq_resident_memory_limit_bytes", "Memory high watermark in bytes", n.MemLimit);
        Gauge(text, "rabbitmq_disk_space_available_bytes", "Disk space available in the data directory's file system", n.DiskFree);
        Gauge(text, "rabbitmq_disk_space_available_limit_bytes", "Free disk space low watermark in bytes", n.DiskFreeLimit);
        Gauge(text, "rabbitmq_alarms_memory_used_watermark", "1 while this node's memory alarm is in effect", n.MemAlarm ? 1 : 0);
        Gauge(text, "rabbitmq_alarms_free_disk_space_watermark", "1 while this node's disk alarm is in effect", n.DiskAlarm ? 1 : 0);
        Gauge(text, "rabbitmq_process_open_fds", "Open file descriptors", n.FdUsed);
        Gauge(text, "rabbitmq_process_max_fds", "Open file descriptor limit", n.FdTotal);
        Counter(text, "rabbitmq_connections_opened_total", "Connections opened", n.ConnectionsOpened);
        Counter(text, "rabbitmq_connections_closed_total", "Connections closed", n.ConnectionsClosed);
        Counter(text, "rabbitmq_channels_opened_total", "Channels opened", n.ChannelsOpened);
        Counter(text, "rabbitmq_channels_closed_total", "Channels closed", n.ChannelsClosed);
        Counter(text, "rabbitmq_queues_declared_total", "Queues declared", n.QueuesDeclared);
        Counter(text, "rabbitmq_queues_created_total", "Queues created", n.QueuesCreated);
        Counter(text, "rabbitmq_queues_deleted_total", "Queues deleted", n.QueuesDeleted);
        long unroutable = Total(MessageStat.DropUnroutable) + Total(MessageStat.ReturnUnroutable);
        Counter(text, "rabbitmq_global_messages_received_total", "Messages published by clients", Total(MessageStat.Publish));
        Counter(text, "rabbitmq_global_messages_received_confirm_total", "Messages published on channels in confirm mode", Total(MessageStat.ReceivedConfirm));
        Counter(text, "rabbitmq_global_messages_routed_total", "Messages routed to at least one queue", Total(MessageStat.Publish) - unroutable);
        Counter(text, "rabbitmq_global_messages_unroutable_dropped_total", "Unroutable messages dropped", Total(MessageStat.DropUnroutable));
        Counter(text, "rabbitmq_global_messages_unroutable_returned_total", "Unroutable messages returned to the publisher", Total(MessageStat.ReturnUnroutable));
        Counter(text, "rabbitmq_global_messages_confirmed_total", "Messages confirmed to publishers", Total(MessageStat.Confirm));
        Counter(text, "rabbitmq_global_messages_delivered_total", "Messages delivered to clients", MessageStats.DeliverGet(report.Totals));
        Counter(text, "rabbitmq_global_messages_delivered_consume_manual_ack_total", "Messages delivered to consumers that ack", Total(MessageStat.Deliver));
        Counter(text, "rabbitmq_global_messages_delivered_consume_auto_ack_total", "Messages delivered to no-ack consumers", Total(MessageStat.DeliverNoAck));
        Counter(text, "rabbitmq_global_messages_delivered_get_manual_ack_total", "Messages fetched with basic.get to be acked", Total(MessageStat.Get));
        Counter(text, "rabbitmq_global_messages_delivered_get_auto_ack_total", "Messages fetched with basic.get, no ack", Total(MessageStat.GetNoAck));
        Counter(text, "rabbitmq_global_messages_get_empty_total", "basic.get calls that found the queue empty", Total(MessageStat.GetEmpty));
        Counter(text, "rabbitmq_global_messages_redelivered_total", "Messages redelivered", Total(MessageStat.Redeliver));
        Counter(text, "rabbitmq_global_messages_acknowledged_total", "Messages acknowledged by clients", Total(MessageStat.Ack));

        var queues = report.Queues.OrderBy(q => q.VHost, StringComparer.Ordinal).ThenBy(q => q.Name, StringComparer.Ordinal).ToList();
        string Labels(QueueSample q) => $"vhost=\"{Escape(q.VHost)}\",queue=\"{Escape(q.Name)}\"";
        Metric(text, "rabbitmq_queue_messages_ready", "gauge", "Messages ready for delivery", queues.Select(q => (Labels(q), (double)q.Ready)).ToArray());
        Metric(text, "rabbitmq_queue_messages_unacked", "gauge", "Messages delivered and not yet acknowledged", queues.Select(q => (Labels(q), (double)q.Unacked)).ToArray());
        Metric(text, "rabbitmq_queue_messages", "gauge", "Messages ready and unacknowledged", queues.Select(q => (Labels(q), (double)(q.Ready + q.Unacked))).ToArray());
        Metric(text, "rabbitmq_queue_consumers", "gauge", "Consumers of the queue", queues.Select(q => (Labels(q), (double)q.Consumers)).ToArray());
        Metric(text, "rabbitmq_queue_messages_published_total", "counter", "Messages that entered the queue",
            queues.Select(q => (Labels(q), (double)q.Totals[(int)MessageStat.Publish])).ToArray());

        text.Append("# HELP broker_journal_write_seconds Time from a queue's journal write request to its completion\n");
        text.Append("# TYPE broker_journal_write_seconds histogram\n");
        for (int i = 0; i < JournalWriteHistogram.Bounds.Length; i++)
        {
            text.Append("broker_journal_write_seconds_bucket{le=\"").Append(Number(JournalWriteHistogram.Bounds[i])).Append("\"} ")
                .Append(n.JournalWriteBuckets[i]).Append('\n');
        }

        text.Append("broker_journal_write_seconds_bucket{le=\"+Inf\"} ").Append(n.JournalWriteBuckets[^1]).Append('\n');
        text.Append("broker_journal_write_seconds_sum ").Append(Number(n.JournalWriteSeconds)).Append('\n');
        text.Append("broker_journal_write_seconds_count ").Append(n.JournalWriteBuckets[^1]).Append('\n');
    }

    private static void Gauge(StringBuilder text, string name, string help, double value) => Metric(text, name, "gauge", help, (string.Empty, value));

    private static void Counter(StringBuilder text, string name, string help, double value) => Metric(text, name, "counter", help, (string.Empty, value));

    private static void Metric(StringBuilder text, string name, string type, string help, params (string Labels, double Value)[] samples)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        foreach (var (labels, value) in samples)
        {
            text.Append(name);
            if (labels.Length > 0)
            {
                text.Append('{').Append(labels).Append('}');
            }

            text.Append(' ').Append(Number(value)).Append('\n');
        }
    }

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Escape(string label) =>
        label.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
