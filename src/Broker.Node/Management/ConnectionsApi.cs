using System.Text.Json.Nodes;
using Broker.Actors.Management;

namespace Broker.Node.Management;

/// <summary>/api/connections, /api/channels, /api/consumers and this broker's /api/closed-connections, over the whole cluster.</summary>
public static class ConnectionsApi
{
    public static void Map(ApiRouter r) => r
        .Map("GET", "connections", request => Connections(request, null))
        .Map("GET", "vhosts/{vhost}/connections", request => Connections(request, request["vhost"]))
        .Map("GET", "connections/{name}", Connection)
        .Map("DELETE", "connections/{name}", Close)
        .Map("GET", "connections/{name}/channels", request => Channels(request, c => c.ConnectionName == request["name"]))
        .Map("GET", "channels", request => Channels(request, _ => true))
        .Map("GET", "vhosts/{vhost}/channels", request => Channels(request, c => c.VHost == request["vhost"]))
        .Map("GET", "channels/{name}", Channel)
        .Map("GET", "consumers", request => Consumers(request, null))
        .Map("GET", "consumers/{vhost}", request => Consumers(request, request["vhost"]))
        .Map("GET", "closed-connections", ClosedConnections);

    private static async Task Connections(ApiRequest request, string? vhost)
    {
        var view = await request.Node.ViewAsync();
        var channels = view.Channels.ToLookup(c => c.ConnectionName);
        await request.List(view.Connections
            .Where(c => request.User.MaySeeConnectionOf(c.User) && (vhost is null || c.VHost == vhost))
            .Select(c => ConnectionJson(c, channels[c.Name])));
    }

    private static async Task Connection(ApiRequest request)
    {
        var view = await request.Node.ViewAsync();
        var connection = view.Connections.FirstOrDefault(c => c.Name == request["name"] && request.User.MaySeeConnectionOf(c.User))
                         ?? throw ApiException.NotFound();
        await request.Json(ConnectionJson(connection, view.Channels.Where(c => c.ConnectionName == connection.Name)));
    }

    /// <summary>
    /// Closes the connection wherever it is with 320 CONNECTION_FORCED and the X-Reason header's
    /// text; administrators may close any, others only their own (as in RabbitMQ).
    /// </summary>
    private static async Task Close(ApiRequest request)
    {
        request.Node.Invalidate();
        var view = await request.Node.ViewAsync();
        var connection = view.Connections.FirstOrDefault(c => c.Name == request["name"] && request.User.MaySeeConnectionOf(c.User))
                         ?? throw ApiException.NotFound();
        if (!request.User.IsAdministrator && connection.User != request.User.Name)
        {
            throw ApiException.NotAuthorised("Not administrator user");
        }

        string reason = request.Http.Request.Headers["X-Reason"].ToString() is { Length: > 0 } given ? given : "Closed via management plugin";
        if (!await ClusterView.CloseConnectionAsync(request.Node.Broker.Actors, connection.Name, reason))
        {
            throw ApiException.NotFound();
        }

        request.Node.Invalidate();
        await request.NoContent();
    }

    private static async Task Channels(ApiRequest request, Func<ChannelSample, bool> filter)
    {
        var view = await request.Node.ViewAsync();
        await request.List(view.Channels.Where(c => request.User.MaySeeConnectionOf(c.User) && filter(c)).Select(ChannelJson));
    }

    private static async Task Channel(ApiRequest request)
    {
        var view = await request.Node.ViewAsync();
        var channel = view.Channels.FirstOrDefault(c => c.Name == request["name"] && request.User.MaySeeConnectionOf(c.User))
                      ?? throw ApiException.NotFound();
        var json = ChannelJson(channel);
        json["consumer_details"] = new JsonArray(channel.Consumers.Select(k => (JsonNode?)ConsumerJson(channel, k)).ToArray());
        await request.Json(json);
    }

    private static async Task Consumers(ApiRequest request, string? vhost)
    {
        if (vhost is not null)
        {
            request.User.RequireVHost(request.Access, vhost);
        }

        var view = await request.Node.ViewAsync();
        await request.List(view.Channels
            .Where(c => (vhost is null || c.VHost == vhost) && request.User.MaySee(c.VHost))
            .SelectMany(c => c.Consumers.Select(k => ConsumerJson(c, k))));
    }

    private static async Task ClosedConnections(ApiRequest request)
    {
        var view = await request.Node.ViewAsync();
        await request.Json(new JsonArray(view.Reports
            .SelectMany(r => r.Closed.Select(c => (Node: r.Node.Name, Closed: c)))
            .Where(c => request.User.MaySeeConnectionOf(c.Closed.User))
            .OrderByDescending(c => c.Closed.ClosedAt)
            .Select(c => (JsonNode?)new JsonObject
            {
                ["name"] = c.Closed.Name,
                ["node"] = c.Node,
                ["user"] = c.Closed.User,
                ["vhost"] = c.Closed.VHost,
                ["peer_host"] = c.Closed.PeerHost,
                ["peer_port"] = c.Closed.PeerPort,
                ["reply_code"] = c.Closed.ReplyCode,
                ["reply_text"] = c.Closed.ReplyText,
                ["closed_at"] = c.Closed.ClosedAt,
                ["initiated_by"] = c.Closed.InitiatedBy,
            }).ToArray()));
    }

    /// <summary>A connection, with the message counters and rates of its open channels summed (RabbitMQ shows only octets there).</summary>
    public static JsonObject ConnectionJson(ConnectionSample c, IEnumerable<ChannelSample> channels)
    {
        var totals = new long[Broker.Actors.Stats.MessageStats.Count];
        var rates = new double[Broker.Actors.Stats.MessageStats.Count];
        foreach (var channel in channels)
        {
            for (int i = 0; i < totals.Length; i++)
            {
                totals[i] += channel.Totals[i];
                rates[i] += channel.Rates[i];
            }
        }

        var json = ConnectionJson(c);
        json["message_stats"] = StatsJson.MessageStats(totals, rates, StatsJson.ChannelStats);
        return json;
    }

    private static JsonObject ConnectionJson(ConnectionSample c) => new()
    {
        ["name"] = c.Name,
        ["node"] = c.Node,
        ["type"] = "network",
        ["protocol"] = "AMQP 0-9-1",
        ["user"] = c.User,
        ["vhost"] = c.VHost,
        ["peer_host"] = c.PeerHost,
        ["peer_port"] = c.PeerPort,
        ["host"] = c.Host,
        ["port"] = c.Port,
        ["ssl"] = c.Ssl,
        ["auth_mechanism"] = c.AuthMechanism,
        ["state"] = c.State,
        ["channels"] = c.Channels,
        ["channel_max"] = c.ChannelMax,
        ["frame_max"] = c.FrameMax,
        ["timeout"] = c.Heartbeat,
        ["connected_at"] = c.ConnectedAt,
        ["client_properties"] = c.ClientProperties?.DeepClone() ?? new JsonObject(),
        ["user_provided_name"] = c.ClientProperties?["connection_name"] is JsonValue name && name.TryGetValue(out string? text) ? text : null,
        ["recv_oct"] = c.RecvOct,
        ["recv_oct_details"] = StatsJson.Rate(c.RecvRate),
        ["recv_cnt"] = c.RecvCnt,
        ["send_oct"] = c.SendOct,
        ["send_oct_details"] = StatsJson.Rate(c.SendRate),
        ["send_cnt"] = c.SendCnt,
    };

    public static JsonObject ChannelJson(ChannelSample c) => new()
    {
        ["name"] = c.Name,
        ["node"] = c.Node,
        ["number"] = c.Number,
        ["user"] = c.User,
        ["vhost"] = c.VHost,
        ["connection_details"] = new JsonObject { ["name"] = c.ConnectionName, ["peer_host"] = c.PeerHost, ["peer_port"] = c.PeerPort },
        ["state"] = "running",
        ["confirm"] = c.Confirm,
        ["transactional"] = c.Transactional,
        ["prefetch_count"] = c.Prefetch,
        ["global_prefetch_count"] = c.GlobalPrefetch,
        ["consumer_count"] = c.Consumers.Count,
        ["messages_unacknowledged"] = c.Unacked,
        ["messages_unconfirmed"] = c.Unconfirmed,
        ["messages_uncommitted"] = 0,
        ["acks_uncommitted"] = 0,
        ["message_stats"] = StatsJson.MessageStats(c.Totals, c.Rates, StatsJson.ChannelStats),
    };

    private static JsonObject ConsumerJson(ChannelSample channel, ConsumerSample k) => new()
    {
        ["consumer_tag"] = k.Tag,
        ["queue"] = new JsonObject { ["name"] = k.Queue, ["vhost"] = channel.VHost },
        ["channel_details"] = new JsonObject
        {
            ["name"] = channel.Name,
            ["number"] = channel.Number,
            ["node"] = channel.Node,
            ["connection_name"] = channel.ConnectionName,
            ["peer_host"] = channel.PeerHost,
            ["peer_port"] = channel.PeerPort,
            ["user"] = channel.User,
        },
        ["ack_required"] = k.AckRequired,
        ["exclusive"] = k.Exclusive,
        ["prefetch_count"] = k.Prefetch,
        ["active"] = true,
        ["activity_status"] = "up",
        ["arguments"] = k.Arguments.DeepClone(),
    };
}
