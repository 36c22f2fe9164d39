using System.Net;
using RabbitMQ.Client;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>A node with its Prometheus-only listener on.</summary>
public sealed class MetricsFixture : BrokerFixture
{
    public MetricsFixture() : base(new Dictionary<string, string> { ["BROKER_PROMETHEUS_PORT"] = "0" })
    {
    }
}

/// <summary>/metrics as Prometheus scrapes it: rabbitmq_prometheus's names, valid by promtool, counting real AMQP traffic.</summary>
public sealed class PrometheusMetricsTests : IClassFixture<MetricsFixture>
{
    private readonly MetricsFixture _broker;

    public PrometheusMetricsTests(MetricsFixture broker) => _broker = broker;

    [Fact]
    public async Task Metrics_pass_promtool_and_count_published_delivered_and_acked_messages()
    {
        string queue = UniqueName("metered");
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync(new RabbitMQ.Client.CreateChannelOptions(true, true));
        await ch.QueueDeclareAsync(queue, false, false, false);
        for (int i = 0; i < 3; i++)
        {
            await ch.BasicPublishAsync("", queue, Body("m"));
        }

        await using var consumer = await conn.CreateChannelAsync();
        var (_, deliveries) = await ConsumeAsync(consumer, queue, autoAck: false);
        var first = await deliveries.NextAsync();
        await consumer.BasicAckAsync(first.DeliveryTag, false);

        using var http = new HttpClient { BaseAddress = _broker.PrometheusUri };
        string metrics = "";
        await Wait.Until(async () =>
        {
            metrics = await http.GetStringAsync("metrics");
            return metrics.Contains("rabbitmq_global_messages_acknowledged_total 1\n") &&
                   metrics.Contains($"rabbitmq_queue_messages_unacked{{vhost=\"/\",queue=\"{queue}\"}} 2\n");
        }, "the ack and the unacked messages counted");
        Assert.Contains("rabbitmq_global_messages_received_total 3\n", metrics);
        Assert.Contains("rabbitmq_global_messages_received_confirm_total 3\n", metrics);
        Assert.Contains("rabbitmq_global_messages_confirmed_total 3\n", metrics);
        Assert.Contains("rabbitmq_global_messages_delivered_consume_manual_ack_total 3\n", metrics);
        Assert.Contains($"rabbitmq_queue_messages_ready{{vhost=\"/\",queue=\"{queue}\"}} 0\n", metrics);
        Assert.Contains($"rabbitmq_queue_consumers{{vhost=\"/\",queue=\"{queue}\"}} 1\n", metrics);
        Assert.Contains("rabbitmq_connections 1\n", metrics);
        Assert.Contains("# TYPE broker_journal_write_seconds histogram", metrics);
        Assert.Matches(@"rabbitmq_identity_info\{rabbitmq_node=""[^""]+"",rabbitmq_cluster=""[^""]+""\} 1", metrics);

        string promtool = await DebianTools.PromtoolAsync();
        var (code, output) = await DebianTools.RunWithOutputAsync(promtool, "check metrics", null, TimeSpan.FromMinutes(1), stdin: metrics);
        Assert.True(code == 0, $"promtool check metrics: {output}");

        // The same text on the management port; the Prometheus port serves nothing else.
        using var management = new HttpClient { BaseAddress = _broker.ManagementUri };
        Assert.Contains("rabbitmq_connections", await management.GetStringAsync("metrics"));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("api/overview")).StatusCode);
    }
}

/// <summary>
/// The journal's commit counters on /metrics. A node of its own: the other class's test counts the
/// node's global totals exactly, which these publishes would change.
/// </summary>
public sealed class JournalMetricsTests : IClassFixture<MetricsFixture>
{
    private readonly MetricsFixture _broker;

    public JournalMetricsTests(MetricsFixture broker) => _broker = broker;

    /// <summary>Group commit's figures: what the journal's commits carried, counted by its writer thread.</summary>
    [Fact]
    public async Task Journal_commits_count_the_rows_and_bytes_of_persistent_messages()
    {
        using var http = new HttpClient { BaseAddress = _broker.PrometheusUri };
        var before = JournalCounters(await http.GetStringAsync("metrics"));

        string queue = UniqueName("journaled");
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync(new RabbitMQ.Client.CreateChannelOptions(true, true));
        await ch.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        var props = new BasicProperties { Persistent = true };
        for (int i = 0; i < 5; i++)
        {
            // Confirmed means committed: the counters include these five once the confirm is back.
            await ch.BasicPublishAsync("", queue, false, props, new byte[10_000]);
        }

        var after = JournalCounters(await http.GetStringAsync("metrics"));
        Assert.True(after.Commits > before.Commits, $"commits {before.Commits} -> {after.Commits}");
        Assert.True(after.Rows - before.Rows >= 5, $"rows {before.Rows} -> {after.Rows}");
        Assert.True(after.Bytes - before.Bytes >= 5 * 10_000, $"bytes {before.Bytes} -> {after.Bytes}");
        Assert.True(after.Rows >= after.Commits, "a commit carries at least one row");
        await ch.QueueDeleteAsync(queue);
    }

    private static (long Commits, long Rows, long Bytes) JournalCounters(string metrics)
    {
        long Read(string name)
        {
            var m = System.Text.RegularExpressions.Regex.Match(metrics, $@"^{name} (\d+)$", System.Text.RegularExpressions.RegexOptions.Multiline);
            Assert.True(m.Success, $"{name} missing from /metrics");
            return long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        }

        return (Read("broker_journal_commits_total"), Read("broker_journal_committed_rows_total"), Read("broker_journal_committed_bytes_total"));
    }
}
