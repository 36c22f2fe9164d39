using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Broker.Actors;
using Broker.Actors.Management;
using Broker.Actors.Routing;

namespace Broker.Node.Management;

/// <summary>/api/bindings and the bindings of one exchange or queue: list, create, delete (by properties_key).</summary>
public static class BindingsApi
{
    public static void Map(ApiRouter r) => r
        .Map("GET", "bindings", request => List(request, null, _ => true))
        .Map("GET", "bindings/{vhost}", request => List(request, request["vhost"], _ => true))
        .Map("GET", "exchanges/{vhost}/{name}/bindings/source", request =>
        {
            string exchange = Exchange(request);
            return List(request, request["vhost"], b => b.Source == exchange);
        })
        .Map("GET", "exchanges/{vhost}/{name}/bindings/destination", request =>
        {
            string exchange = Exchange(request);
            return List(request, request["vhost"], b => b.ToExchange && b.Destination == exchange);
        })
        .Map("GET", "queues/{vhost}/{name}/bindings", request =>
        {
            string queue = QueuesApi.Find(request, request["vhost"], request["name"]).Name;
            return List(request, request["vhost"], b => !b.ToExchange && b.Destination == queue);
        })
        .Map("GET", "bindings/{vhost}/e/{source}/q/{destination}", request => Between(request, toExchange: false))
        .Map("GET", "bindings/{vhost}/e/{source}/e/{destination}", request => Between(request, toExchange: true))
        .Map("POST", "bindings/{vhost}/e/{source}/q/{destination}", request => Create(request, toExchange: false))
        .Map("POST", "bindings/{vhost}/e/{source}/e/{destination}", request => Create(request, toExchange: true))
        .Map("GET", "bindings/{vhost}/e/{source}/q/{destination}/{props}", request => ShowOne(request, toExchange: false))
        .Map("GET", "bindings/{vhost}/e/{source}/e/{destination}/{props}", request => ShowOne(request, toExchange: true))
        .Map("DELETE", "bindings/{vhost}/e/{source}/q/{destination}/{props}", request => Delete(request, toExchange: false))
        .Map("DELETE", "bindings/{vhost}/e/{source}/e/{destination}/{props}", request => Delete(request, toExchange: true));

    private static string Exchange(ApiRequest request) => ExchangesApi.Find(request, request["vhost"], request["name"]).Name;

    /// <summary>A vhost's bindings: the default exchange's implicit one to each queue first, then every exchange's.</summary>
    public static IEnumerable<Binding> All(BrokerContext ctx, string vhost)
    {
        foreach (var queue in QueuesApi.All(ctx, vhost).OrderBy(q => q.Name, StringComparer.Ordinal))
        {
            yield return new Binding(string.Empty, queue.Name, false, queue.Name, new Protocol.FieldTable());
        }

        foreach (var route in ctx.Routes.All(vhost).OrderBy(r => r.Name, StringComparer.Ordinal))
        {
            foreach (var binding in route.Bindings)
            {
                yield return binding;
            }
        }
    }

    public static JsonObject BindingJson(string vhost, Binding b) => new()
    {
        ["source"] = b.Source,
        ["vhost"] = vhost,
        ["destination"] = b.Destination,
        ["destination_type"] = b.ToExchange ? "exchange" : "queue",
        ["routing_key"] = b.RoutingKey,
        ["arguments"] = FieldTableJson.ToJson(b.Arguments),
        ["properties_key"] = PropertiesKey(b),
    };

    /// <summary>Names a binding among those between the same two ends: its routing key, and a digest of its arguments if it has any.</summary>
    public static string PropertiesKey(Binding b)
    {
        string key = b.RoutingKey.Replace("%", "%25", StringComparison.Ordinal).Replace("~", "%7E", StringComparison.Ordinal);
        if (b.Arguments.Count == 0)
        {
            return key.Length == 0 ? "~" : key;
        }

        byte[] digest = SHA256.HashData(Encoding.UTF8.GetBytes(FieldTableJson.ToJson(b.Arguments).ToJsonString()));
        return key + "~" + Convert.ToBase64String(digest, 0, 6).Replace('+', '-').Replace('/', '_');
    }

    private static async Task List(ApiRequest request, string? vhost, Func<Binding, bool> filter)
    {
        if (vhost is not null)
        {
            request.User.RequireVHost(request.Access, vhost);
        }

        var ctx = request.Node.Broker.Context;
        var vhosts = vhost is not null ? [vhost] : request.Access.Store.VHosts.Select(v => v.Name).Where(request.User.MaySee);
        await request.List(vhosts.SelectMany(v => All(ctx, v).Where(filter).Select(b => BindingJson(v, b))).ToList());
    }

    private static List<Binding> BetweenEnds(ApiRequest request, bool toExchange)
    {
        string vhost = request["vhost"];
        string source = ExchangesApi.Find(request, vhost, request["source"]).Name;
        string destination = toExchange
            ? ExchangesApi.Find(request, vhost, request["destination"]).Name
            : QueuesApi.Find(request, vhost, request["destination"]).Name;
        return All(request.Node.Broker.Context, vhost)
            .Where(b => b.Source == source && b.Destination == destination && b.ToExchange == toExchange).ToList();
    }

    private static Task Between(ApiRequest request, bool toExchange) =>
        request.List(BetweenEnds(request, toExchange).Select(b => BindingJson(request["vhost"], b)));

    private static Task ShowOne(ApiRequest request, bool toExchange)
    {
        var binding = BetweenEnds(request, toExchange).FirstOrDefault(b => PropertiesKey(b) == request["props"]) ?? throw ApiException.NotFound();
        return request.Json(BindingJson(request["vhost"], binding));
    }

    private static async Task Create(ApiRequest request, bool toExchange)
    {
        string vhost = request["vhost"];
        string source = ExchangesApi.Find(request, vhost, request["source"]).Name;
        string destination = request["destination"];
        var body = await request.BodyAsync();
        string routingKey = ApiBody.Text(body, "routing_key") ?? string.Empty;
        var arguments = ApiBody.Arguments(body);
        await AmqpSession.RunAsync(request, vhost, (channel, ct) => toExchange
            ? channel.ExchangeBindAsync(destination, source, routingKey, arguments, cancellationToken: ct)
            : channel.QueueBindAsync(destination, source, routingKey, arguments, cancellationToken: ct));
        string key = PropertiesKey(new Binding(source, destination, toExchange, routingKey, arguments));
        request.Http.Response.Headers.Location = $"{Uri.EscapeDataString(destination)}/{Uri.EscapeDataString(key)}";
        await request.Created(true);
    }

    private static async Task Delete(ApiRequest request, bool toExchange)
    {
        var binding = BetweenEnds(request, toExchange).FirstOrDefault(b => PropertiesKey(b) == request["props"]) ?? throw ApiException.NotFound();
        await AmqpSession.RunAsync(request, request["vhost"], (channel, ct) => toExchange
            ? channel.ExchangeUnbindAsync(binding.Destination, binding.Source, binding.RoutingKey, binding.Arguments, cancellationToken: ct)
            : channel.QueueUnbindAsync(binding.Destination, binding.Source, binding.RoutingKey, binding.Arguments, cancellationToken: ct));
        await request.NoContent();
    }
}
