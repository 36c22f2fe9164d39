using System.Text.Json.Nodes;
using Broker.Actors;
using Broker.Actors.Management;
using Broker.Actors.Routing;

namespace Broker.Node.Management;

/// <summary>/api/exchanges: the cluster's exchanges with their publish counters summed over the nodes; declare, delete, publish.</summary>
public static class ExchangesApi
{
    /// <summary>The default exchange's name in API paths (it has none).</summary>
    public const string DefaultExchangePathName = "amq.default";

    public static void Map(ApiRouter r) => r
        .Map("GET", "exchanges", request => List(request, null))
        .Map("GET", "exchanges/{vhost}", request => List(request, request["vhost"]))
        .Map("GET", "exchanges/{vhost}/{name}", Show)
        .Map("PUT", "exchanges/{vhost}/{name}", Declare)
        .Map("DELETE", "exchanges/{vhost}/{name}", Delete)
        .Map("POST", "exchanges/{vhost}/{name}/publish", MessagesApi.Publish);

    /// <summary>A vhost's exchanges, the default one ("") first, as RabbitMQ lists them.</summary>
    public static IEnumerable<ExchangeDefinition> All(BrokerContext ctx, string vhost)
    {
        var routes = ctx.Routes.All(vhost).Select(r => r.Definition).ToList();
        if (!routes.Any(d => d.Name.Length == 0))
        {
            yield return new ExchangeDefinition(vhost, string.Empty, ExchangeType.Direct, true, false, false, new Protocol.FieldTable());
        }

        foreach (var def in routes.OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            yield return def;
        }
    }

    public static ExchangeDefinition Find(ApiRequest request, string vhost, string name)
    {
        request.User.RequireVHost(request.Access, vhost);
        string actual = name == DefaultExchangePathName ? string.Empty : name;
        return All(request.Node.Broker.Context, vhost).FirstOrDefault(d => d.Name == actual) ?? throw ApiException.NotFound();
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
        await request.List(vhosts.SelectMany(v => All(ctx, v)).Select(d => ExchangeJson(ctx, view, d)));
    }

    private static async Task Show(ApiRequest request)
    {
        var def = Find(request, request["vhost"], request["name"]);
        await request.Json(ExchangeJson(request.Node.Broker.Context, await request.Node.ViewAsync(), def));
    }

    /// <summary>An exchange as definitions files write it.</summary>
    public static JsonObject DefinitionJson(ExchangeDefinition d) => new()
    {
        ["name"] = d.Name,
        ["vhost"] = d.VHost,
        ["type"] = d.Type,
        ["durable"] = d.Durable,
        ["auto_delete"] = d.AutoDelete,
        ["internal"] = d.Internal,
        ["arguments"] = FieldTableJson.ToJson(d.Arguments),
    };

    private static JsonObject ExchangeJson(BrokerContext ctx, ClusterView view, ExchangeDefinition d)
    {
        var json = DefinitionJson(d);
        json["user_who_performed_action"] = string.Empty;
        json["policy"] = ctx.Policies.For(d.VHost, d.Name, isQueue: false)?.Name;
        if (view.Exchanges.TryGetValue((d.VHost, d.Name), out var stats))
        {
            json["message_stats"] = StatsJson.MessageStats(stats.Totals, stats.Rates, StatsJson.ExchangeStats);
        }

        return json;
    }

    private static async Task Declare(ApiRequest request)
    {
        string vhost = request["vhost"];
        string name = request["name"];
        request.User.RequireVHost(request.Access, vhost);
        var body = await request.BodyAsync();
        string type = ApiBody.Text(body, "type") ?? ExchangeType.Direct;
        bool durable = ApiBody.Bool(body, "durable", true);
        bool autoDelete = ApiBody.Bool(body, "auto_delete", false);
        if (ApiBody.Bool(body, "internal", false))
        {
            // The AMQP client the API declares through cannot set exchange.declare's internal bit.
            throw ApiException.BadRequest("internal exchanges cannot be declared through the HTTP API yet; declare it over AMQP");
        }

        var arguments = ApiBody.Arguments(body);
        bool existed = request.Node.Broker.Context.Routes.Find(vhost, name) is not null;
        await AmqpSession.RunAsync(request, vhost, (channel, ct) =>
            channel.ExchangeDeclareAsync(name, type, durable, autoDelete, arguments, cancellationToken: ct));
        await request.Created(!existed);
    }

    private static async Task Delete(ApiRequest request)
    {
        var def = Find(request, request["vhost"], request["name"]);
        bool ifUnused = request.Query("if-unused") == "true";
        await AmqpSession.RunAsync(request, def.VHost, (channel, ct) => channel.ExchangeDeleteAsync(def.Name, ifUnused, cancellationToken: ct));
        await request.NoContent();
    }
}
