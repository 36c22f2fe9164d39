using System.Text;
using System.Text.Json.Nodes;
using Broker.Actors;
using Broker.Actors.Management;
using Broker.Actors.Queues;
using Broker.Actors.Routing;
using RabbitMQ.Client;

namespace Broker.Node.Management;

/// <summary>/api/queues: the cluster's queues with their numbers from the node that runs each; declare, delete, purge, get.</summary>
public static class QueuesApi
{
    public static void Map(ApiRouter r) => r
        .Map("GET", "queues", request => List(request, null))
        .Map("GET", "queues/{vhost}", request => List(request, request["vhost"]))
        .Map("GET", "queues/{vhost}/{name}", Show)
        .Map("PUT", "queues/{vhost}/{name}", Declare)
        .Map("DELETE", "queues/{vhost}/{name}", Delete)
        .Map("DELETE", "queues/{vhost}/{name}/contents", Purge)
        .Map("POST", "queues/{vhost}/{name}/get", MessagesApi.Get);

    /// <summary>The queues clients can see (a delayed-message exchange's own queue is hidden).</summary>
    public static IEnumerable<QueueInfo> All(BrokerContext ctx, string vhost) =>
        ctx.Queues.All.Where(q => q.Definition.VHost == vhost && !DelayedMessages.IsHidden(q.Name));

    public static QueueInfo Find(ApiRequest request, string vhost, string name)
    {
        request.User.RequireVHost(request.Access, vhost);
        var queue = request.Node.Broker.Context.Queues.Find(vhost, name);
        return queue is null || DelayedMessages.IsHidden(name) ? throw ApiException.NotFound() : queue;
    }

    private static async Task List(ApiRequest request, string? vhost)
    {
        if (vhost is not null)
        {
            request.User.RequireVHost(request.Access, vhost);
        }

        var ctx = request.Node.Broker.Context;
        var view = await request.Node.ViewAsync();
        var vhosts = vhost is not null ? [vhost] : request.Access.Store.VHosts.Select(v => v.Name).Where(request.User.MaySee);
        await request.List(vhosts.SelectMany(v => All(ctx, v)).OrderBy(q => q.Definition.VHost, StringComparer.Ordinal)
            .ThenBy(q => q.Name, StringComparer.Ordinal).Select(q => QueueJson(ctx, view, q)));
    }

    private static async Task Show(ApiRequest request)
    {
        var queue = Find(request, request["vhost"], request["name"]);
        var view = await request.Node.ViewAsync();
        var json = QueueJson(request.Node.Broker.Context, view, queue);
        json["consumer_details"] = new JsonArray(view.Channels
            .SelectMany(c => c.Consumers.Where(k => c.VHost == queue.Definition.VHost && k.Queue == queue.Name).Select(k => (JsonNode?)new JsonObject
            {
                ["consumer_tag"] = k.Tag,
                ["channel_details"] = new JsonObject { ["name"] = c.Name, ["connection_name"] = c.ConnectionName, ["node"] = c.Node, ["user"] = c.User },
                ["ack_required"] = k.AckRequired,
                ["exclusive"] = k.Exclusive,
                ["prefetch_count"] = k.Prefetch,
                ["active"] = true,
                ["arguments"] = k.Arguments.DeepClone(),
            })).ToArray());
        await request.Json(json);
    }

    public static JsonObject QueueJson(BrokerContext ctx, ClusterView view, QueueInfo q)
    {
        var def = q.Definition;
        var sample = view.Queues.GetValueOrDefault((def.VHost, def.Name));
        var policy = ctx.Policies.For(def.VHost, def.Name, isQueue: true);
        int ready = sample?.Ready ?? 0;
        int unacked = sample?.Unacked ?? 0;
        var json = new JsonObject
        {
            ["name"] = def.Name,
            ["vhost"] = def.VHost,
            ["type"] = def.QueueType,
            ["durable"] = def.Durable,
            ["auto_delete"] = def.AutoDelete,
            ["exclusive"] = def.Exclusive,
            ["arguments"] = FieldTableJson.ToJson(def.Arguments),
            ["node"] = sample?.Node ?? (q.Available ? null : "(down)"),
            ["state"] = sample is not null ? "running" : "down",
            ["messages"] = ready + unacked,
            ["messages_ready"] = ready,
            ["messages_unacknowledged"] = unacked,
            ["message_bytes_ready"] = sample?.ReadyBytes ?? 0,
            ["consumers"] = sample?.Consumers ?? 0,
            // Body bytes plus a rough per-message overhead: what the queue holds in memory.
            ["memory"] = (sample?.ReadyBytes ?? 0) + (ready + unacked) * 256L + 4096,
            ["policy"] = policy?.Name,
            ["effective_policy_definition"] = policy is null ? new JsonObject() : FieldTableJson.ToJson(policy.Definition),
        };
        if (q.OwnerConnectionId is { } owner)
        {
            json["owner_pid_details"] = new JsonObject { ["name"] = owner };
        }

        if (sample is not null)
        {
            json["message_stats"] = StatsJson.MessageStats(sample.Totals, sample.Rates, StatsJson.QueueStats);
        }

        return json;
    }

    private static async Task Declare(ApiRequest request)
    {
        string vhost = request["vhost"];
        string name = request["name"];
        request.User.RequireVHost(request.Access, vhost);
        var body = await request.BodyAsync();
        bool durable = ApiBody.Bool(body, "durable", true);
        bool autoDelete = ApiBody.Bool(body, "auto_delete", false);
        var arguments = ApiBody.Arguments(body);
        bool existed = request.Node.Broker.Context.Queues.Find(vhost, name) is not null;
        await AmqpSession.RunAsync(request, vhost, (channel, ct) =>
            channel.QueueDeclareAsync(name, durable, exclusive: false, autoDelete, arguments, cancellationToken: ct));
        await request.Created(!existed);
    }

    private static async Task Delete(ApiRequest request)
    {
        var queue = Find(request, request["vhost"], request["name"]);
        bool ifEmpty = request.Query("if-empty") == "true";
        bool ifUnused = request.Query("if-unused") == "true";
        await AmqpSession.RunAsync(request, queue.Definition.VHost, (channel, ct) =>
            channel.QueueDeleteAsync(queue.Name, ifUnused, ifEmpty, cancellationToken: ct));
        await request.NoContent();
    }

    private static async Task Purge(ApiRequest request)
    {
        var queue = Find(request, request["vhost"], request["name"]);
        await AmqpSession.RunAsync(request, queue.Definition.VHost, (channel, ct) => channel.QueuePurgeAsync(queue.Name, ct));
        await request.NoContent();
    }
}
