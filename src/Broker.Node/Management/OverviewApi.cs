using System.Text.Json.Nodes;
using Broker.Actors.Alarms;
using Broker.Actors.Management;
using Broker.Actors.Queues;
using RabbitMQ.Client;
using Broker.Actors.Stats;

namespace Broker.Node.Management;

/// <summary>/api/overview, /api/nodes, /api/whoami, /api/cluster-name, the health checks and /api/extensions.</summary>
public static class OverviewApi
{
    /// <summary>The RabbitMQ version whose management API this one follows (reported as rabbitmq_version, for tools that check it).</summary>
    public const string CompatibleRabbitMqVersion = "3.10.8";

    public static string ProductVersion { get; } =
        typeof(OverviewApi).Assembly.GetName().Version?.ToString(3) ?? "0.1.0";

    public static void Map(ApiRouter r) => r
        .Map("GET", "overview", Overview)
        .Map("GET", "nodes", request => Nodes(request, null))
        .Map("GET", "nodes/{name}", request => Nodes(request, request["name"]))
        .Map("GET", "whoami", WhoAmI)
        .Map("GET", "cluster-name", request => request.Json(new JsonObject { ["name"] = request.Node.Broker.Context.Settings.ClusterName }))
        .Map("GET", "extensions", request => request.Json(new JsonArray()))
        .Map("GET", "healthchecks/node", request => request.Json(new JsonObject { ["status"] = "ok" }))
        .Map("GET", "health/checks/alarms", AlarmsCheck)
        .Map("GET", "aliveness-test/{vhost}", AlivenessTest);

    private static async Task Overview(ApiRequest request)
    {
        var view = await request.Node.ViewAsync();
        var ctx = request.Node.Broker.Context;
        var queues = ctx.Queues.All.Where(q => !DelayedMessages.IsHidden(q.Name) && request.User.MaySee(q.Definition.VHost)).ToList();
        var samples = queues.Select(q => view.Queues.GetValueOrDefault((q.Definition.VHost, q.Name))).Where(s => s is not null).ToList();
        var totals = new long[MessageStats.Count];
        var rates = new double[MessageStats.Count];
        // Monitoring users see the nodes' totals; others the traffic of the channels they may see.
        var sources = request.User.IsMonitoring
            ? view.Reports.Select(r => (r.Totals, r.Rates))
            : view.Channels.Where(c => request.User.MaySeeConnectionOf(c.User)).Select(c => (c.Totals, c.Rates));
        foreach (var (t, r) in sources)
        {
            for (int i = 0; i < totals.Length; i++)
            {
                totals[i] += t[i];
                rates[i] += r[i];
            }
        }

        var vhosts = request.Access.Store.VHosts.Where(v => request.User.MaySee(v.Name)).Select(v => v.Name).ToHashSet();
        var connections = view.Connections.Where(c => request.User.MaySeeConnectionOf(c.User)).ToList();
        var channels = view.Channels.Where(c => request.User.MaySeeConnectionOf(c.User)).ToList();
        int ready = samples.Sum(s => s!.Ready);
        int unacked = samples.Sum(s => s!.Unacked);
        await request.Json(new JsonObject
        {
            ["management_version"] = CompatibleRabbitMqVersion,
            ["rates_mode"] = "basic",
            ["exchange_types"] = new JsonArray(ExchangeTypes().ToArray()),
            ["product_version"] = ProductVersion,
            ["product_name"] = "Broker",
            ["rabbitmq_version"] = CompatibleRabbitMqVersion,
            ["cluster_name"] = ctx.Settings.ClusterName,
            ["node"] = ctx.Settings.NodeName,
            ["message_stats"] = StatsJson.MessageStats(totals, rates, StatsJson.ChannelStats),
            ["queue_totals"] = new JsonObject
            {
                ["messages"] = ready + unacked,
                ["messages_ready"] = ready,
                ["messages_unacknowledged"] = unacked,
            },
            ["object_totals"] = new JsonObject
            {
                ["channels"] = channels.Count,
                ["connections"] = connections.Count,
                ["consumers"] = samples.Sum(s => s!.Consumers),
                ["exchanges"] = vhosts.Sum(v => ExchangesApi.All(ctx, v).Count()),
                ["queues"] = queues.Count,
            },
            ["statistics_db_event_queue"] = 0,
            ["listeners"] = Listeners(request, view),
            ["contexts"] = new JsonArray(view.Reports.Where(_ => request.User.IsMonitoring).Select(n => (JsonNode?)new JsonObject
            {
                ["node"] = n.Node.Name,
                ["description"] = "Broker management",
                ["path"] = "/",
                ["port"] = request.Http.Connection.LocalPort.ToString(),
            }).ToArray()),
        });
    }

    private static JsonArray Listeners(ApiRequest request, ClusterView view)
    {
        var endpoint = request.Node.Broker.Endpoint;
        var listeners = new JsonArray();
        if (endpoint is not null)
        {
            listeners.Add(new JsonObject
            {
                ["node"] = request.Node.NodeName,
                ["protocol"] = "amqp",
                ["ip_address"] = endpoint.Address.ToString(),
                ["port"] = endpoint.Port,
            });
        }

        if (request.Node.Broker.TlsEndpoint is { } tls)
        {
            listeners.Add(new JsonObject
            {
                ["node"] = request.Node.NodeName,
                ["protocol"] = "amqp/ssl",
                ["ip_address"] = tls.Address.ToString(),
                ["port"] = tls.Port,
            });
        }

        _ = view;
        return listeners;
    }

    private static IEnumerable<JsonNode?> ExchangeTypes() =>
        new[] { "direct", "fanout", "topic", "headers", "x-delayed-message" }.Select(t => (JsonNode?)new JsonObject
        {
            ["name"] = t,
            ["description"] = t == "x-delayed-message" ? "Delayed message exchange" : $"AMQP {t} exchange, as per the AMQP specification",
            ["enabled"] = true,
        });

    private static async Task Nodes(ApiRequest request, string? name)
    {
        request.User.RequireMonitoring();
        var view = await request.Node.ViewAsync();
        var nodes = view.Reports.Select(r => NodeJson(r.Node, running: true))
            .Concat(view.Unreachable.Select(a => new JsonObject { ["name"] = a, ["running"] = false, ["type"] = "disc" }))
            .ToList();
        if (name is null)
        {
            await request.List(nodes);
            return;
        }

        await request.Json(nodes.FirstOrDefault(n => (string?)n["name"] == name) ?? throw ApiException.NotFound());
    }

    private static JsonObject NodeJson(NodeSample n, bool running) => new()
    {
        ["name"] = n.Name,
        ["type"] = "disc",
        ["running"] = running,
        ["os_pid"] = n.Pid.ToString(),
        ["uptime"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - n.StartedAt,
        ["mem_used"] = n.MemUsed,
        ["mem_limit"] = n.MemLimit,
        ["mem_alarm"] = n.MemAlarm,
        ["disk_free"] = n.DiskFree,
        ["disk_free_limit"] = n.DiskFreeLimit,
        ["disk_free_alarm"] = n.DiskAlarm,
        ["fd_used"] = n.FdUsed,
        ["fd_total"] = n.FdTotal,
        ["proc_used"] = n.Threads,
        ["processors"] = n.Processors,
        ["connection_created"] = n.ConnectionsOpened,
        ["connection_closed"] = n.ConnectionsClosed,
        ["channel_created"] = n.ChannelsOpened,
        ["channel_closed"] = n.ChannelsClosed,
        ["queue_declared"] = n.QueuesDeclared,
        ["queue_created"] = n.QueuesCreated,
        ["queue_deleted"] = n.QueuesDeleted,
    };

    /// <summary>As RabbitMQ's: 200 when no alarm is in effect in the cluster, else 503 listing them.</summary>
    private static Task AlarmsCheck(ApiRequest request)
    {
        var alarms = request.Node.Broker.Context.Alarms.Current;
        if (alarms.IsEmpty)
        {
            return request.Json(new JsonObject { ["status"] = "ok" });
        }

        return request.Json(new JsonObject
        {
            ["status"] = "failed",
            ["reason"] = "There are alarms in effect in the cluster",
            ["alarms"] = new JsonArray(alarms.Select(a => (JsonNode?)new JsonObject
            {
                ["node"] = a.Node,
                // RabbitMQ's names for the two resources.
                ["resource"] = a.Resource == AlarmResource.Memory ? "memory" : "disk space",
            }).ToArray()),
        }, 503);
    }

    private static Task WhoAmI(ApiRequest request) => request.Json(new JsonObject
    {
        ["name"] = request.User.Name,
        ["tags"] = new JsonArray(request.User.Tags.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
    });

    /// <summary>As RabbitMQ's: declares the queue aliveness-test in the vhost, publishes a message to it and gets it back.</summary>
    private static async Task AlivenessTest(ApiRequest request)
    {
        string vhost = request["vhost"];
        request.User.RequireVHost(request.Access, vhost);
        bool ok = await AmqpSession.RunAsync(request, vhost, async (channel, ct) =>
        {
            await channel.QueueDeclareAsync("aliveness-test", durable: false, exclusive: false, autoDelete: false, cancellationToken: ct);
            await channel.BasicPublishAsync("", "aliveness-test", false, new BasicProperties(), "test_message"u8.ToArray(), ct);
            // The channel hands the publish and the get to the queue in this order, so the get finds it.
            var got = await channel.BasicGetAsync("aliveness-test", autoAck: true, ct);
            return got is not null && got.Body.Span.SequenceEqual("test_message"u8);
        });
        if (!ok)
        {
            throw new ApiException(503, "failed", "aliveness test message was not returned");
        }

        await request.Json(new JsonObject { ["status"] = "ok" });
    }
}
