using System.Text.Json.Nodes;
using Broker.Actors.Management;
using Broker.Actors.Routing;

namespace Broker.Node.Management;

/// <summary>
/// /api/definitions: the cluster's users, vhosts, permissions, policies, exchanges, queues and
/// bindings in RabbitMQ's definitions format, exported by GET and imported by POST, so a topology
/// moves between RabbitMQ and this broker in one call each way.
/// </summary>
public static class DefinitionsApi
{
    public static void Map(ApiRouter r) => r
        .Map("GET", "definitions", request => Export(request, null))
        .Map("GET", "definitions/{vhost}", request => Export(request, request["vhost"]))
        .Map("POST", "definitions", request => Import(request, null))
        .Map("POST", "definitions/{vhost}", request => Import(request, request["vhost"]));

    private static Task Export(ApiRequest request, string? onlyVHost)
    {
        request.User.RequireAdministrator();
        var ctx = request.Node.Broker.Context;
        var store = request.Access.Store;
        if (onlyVHost is not null && store.FindVHost(onlyVHost) is null)
        {
            throw ApiException.NotFound();
        }

        var vhosts = store.VHosts.Where(v => onlyVHost is null || v.Name == onlyVHost).Select(v => v.Name).ToList();
        var json = new JsonObject
        {
            ["rabbit_version"] = OverviewApi.CompatibleRabbitMqVersion,
            ["rabbitmq_version"] = OverviewApi.CompatibleRabbitMqVersion,
            ["product_name"] = "Broker",
            ["product_version"] = OverviewApi.ProductVersion,
        };
        if (onlyVHost is null)
        {
            json["users"] = Array(store.Users.Select(AccessApi.UserJson));
            json["vhosts"] = Array(store.VHosts.Select(v => new JsonObject
            {
                ["name"] = v.Name,
                ["description"] = v.Description,
                ["limits"] = Limits(v.MaxConnections, v.MaxQueues),
            }));
            json["permissions"] = Array(store.Permissions.Select(AccessApi.PermissionJson));
            json["topic_permissions"] = Array(store.TopicPermissions.Select(AccessApi.TopicPermissionJson));
            json["parameters"] = new JsonArray();
            json["global_parameters"] = new JsonArray();
        }

        json["policies"] = Array(vhosts.SelectMany(v => ctx.Policies.All(v)).Select(p => p.ToJson()));
        json["queues"] = Array(vhosts.SelectMany(v => QueuesApi.All(ctx, v)).Where(q => !q.Definition.Exclusive).Select(q => new JsonObject
        {
            ["name"] = q.Name,
            ["vhost"] = q.Definition.VHost,
            ["durable"] = q.Definition.Durable,
            ["auto_delete"] = q.Definition.AutoDelete,
            ["arguments"] = FieldTableJson.ToJson(q.Definition.Arguments),
        }));
        json["exchanges"] = Array(vhosts.SelectMany(v => ExchangesApi.All(ctx, v)).Where(IsUserExchange).Select(ExchangesApi.DefinitionJson));
        json["bindings"] = Array(vhosts.SelectMany(v => BindingsApi.All(ctx, v).Where(b => b.Source.Length > 0).Select(b =>
        {
            var binding = BindingsApi.BindingJson(v, b);
            binding.Remove("properties_key");
            return binding;
        })));
        return request.Json(json);
    }

    private static bool IsUserExchange(ExchangeDefinition d) => d.Name.Length > 0 && !d.Name.StartsWith("amq.", StringComparison.Ordinal);

    private static JsonObject Limits(long maxConnections, long maxQueues)
    {
        var limits = new JsonObject();
        if (maxConnections >= 0)
        {
            limits["max-connections"] = maxConnections;
        }

        if (maxQueues >= 0)
        {
            limits["max-queues"] = maxQueues;
        }

        return limits;
    }

    private static JsonArray Array(IEnumerable<JsonObject> items) => new(items.Select(i => (JsonNode?)i).ToArray());

    private static IEnumerable<JsonObject> Items(JsonObject body, string key) =>
        body[key] is JsonArray array ? array.OfType<JsonObject>() : [];

    /// <summary>
    /// Applies a definitions file in dependency order: vhosts, users, permissions, policies,
    /// exchanges, queues, bindings. What exists already is left or updated as a declare would;
    /// the first refusal stops the import with 400 and its reason.
    /// </summary>
    private static async Task Import(ApiRequest request, string? intoVHost)
    {
        request.User.RequireAdministrator();
        var body = await request.BodyAsync("failed_to_parse_json");
        if (intoVHost is not null && request.Access.FindVHost(intoVHost) is null)
        {
            throw ApiException.NotFound();
        }

        string VHostOf(JsonObject item) => intoVHost ?? ApiBody.Text(item, "vhost") ?? "/";
        if (intoVHost is null)
        {
            await ImportAccess(request, body);
        }

        foreach (var policy in Items(body, "policies"))
        {
            await AdminCommands.SendAsync(request, PoliciesApi.Command(VHostOf(policy), ApiBody.RequiredText(policy, "name"), policy));
        }

        var topology = Items(body, "exchanges").Select(e => (VHost: VHostOf(e), Kind: 0, Item: e))
            .Concat(Items(body, "queues").Select(q => (VHost: VHostOf(q), Kind: 1, Item: q)))
            .Concat(Items(body, "bindings").Select(b => (VHost: VHostOf(b), Kind: 2, Item: b)))
            .GroupBy(t => t.VHost);
        foreach (var vhost in topology)
        {
            var items = vhost.OrderBy(t => t.Kind).ToList();
            try
            {
                await ImportTopology(request, vhost.Key, items);
            }
            catch (AmqpOperationException e)
            {
                // A refused declaration is a bad definitions file, whatever the AMQP code (RabbitMQ answers 400 too).
                throw ApiException.BadRequest($"vhost '{vhost.Key}': {e.Message}");
            }
        }

        await request.NoContent();
    }

    private static Task ImportTopology(ApiRequest request, string vhostName, List<(string VHost, int Kind, JsonObject Item)> items) =>
            AmqpSession.RunAsync(request, vhostName, async (channel, ct) =>
            {
                foreach (var (_, kind, item) in items)
                {
                    string name = kind == 2 ? string.Empty : ApiBody.RequiredText(item, "name");
                    switch (kind)
                    {
                        case 0 when ApiBody.Bool(item, "internal", false):
                            throw ApiException.BadRequest($"exchange '{name}': internal exchanges cannot be imported yet; declare it over AMQP");
                        case 0:
                            await channel.ExchangeDeclareAsync(name, ApiBody.Text(item, "type") ?? ExchangeType.Direct,
                                ApiBody.Bool(item, "durable", true), ApiBody.Bool(item, "auto_delete", false), ApiBody.Arguments(item),
                                cancellationToken: ct);
                            break;
                        case 1:
                            await channel.QueueDeclareAsync(name, ApiBody.Bool(item, "durable", true), exclusive: false,
                                ApiBody.Bool(item, "auto_delete", false), ApiBody.Arguments(item), cancellationToken: ct);
                            break;
                        default:
                            string source = ApiBody.RequiredText(item, "source");
                            string destination = ApiBody.RequiredText(item, "destination");
                            string key = ApiBody.Text(item, "routing_key") ?? string.Empty;
                            if (ApiBody.Text(item, "destination_type") == "exchange")
                            {
                                await channel.ExchangeBindAsync(destination, source, key, ApiBody.Arguments(item), cancellationToken: ct);
                            }
                            else
                            {
                                await channel.QueueBindAsync(destination, source, key, ApiBody.Arguments(item), cancellationToken: ct);
                            }

                            break;
                    }
                }
            });

    private static async Task ImportAccess(ApiRequest request, JsonObject body)
    {
        foreach (var vhost in Items(body, "vhosts"))
        {
            string name = ApiBody.RequiredText(vhost, "name");
            if (request.Access.FindVHost(name) is null)
            {
                await AdminCommands.SendAsync(request, new JsonObject
                {
                    ["command"] = "add_vhost",
                    ["name"] = name,
                    ["description"] = ApiBody.Text(vhost, "description") ?? string.Empty,
                });
            }

            if (vhost["limits"] is JsonObject limits && limits.Count > 0)
            {
                await AdminCommands.SendAsync(request, new JsonObject
                {
                    ["command"] = "set_vhost_limits",
                    ["name"] = name,
                    ["max-connections"] = limits["max-connections"]?.DeepClone(),
                    ["max-queues"] = limits["max-queues"]?.DeepClone(),
                });
            }
        }

        foreach (var user in Items(body, "users"))
        {
            string name = ApiBody.RequiredText(user, "name");
            var command = new JsonObject
            {
                ["name"] = name,
                ["password_hash"] = ApiBody.RequiredText(user, "password_hash"),
                ["hashing_algorithm"] = ApiBody.Text(user, "hashing_algorithm") ?? "rabbit_password_hashing_sha256",
            };
            if (request.Access.FindUser(name) is null)
            {
                command["command"] = "add_user";
                command["tags"] = AccessApi.Tags(user["tags"]);
                await AdminCommands.SendAsync(request, command);
            }
            else
            {
                command["command"] = "change_password";
                await AdminCommands.SendAsync(request, command);
                await AdminCommands.SendAsync(request, new JsonObject { ["command"] = "set_user_tags", ["name"] = name, ["tags"] = AccessApi.Tags(user["tags"]) });
            }
        }

        foreach (var p in Items(body, "permissions"))
        {
            await AdminCommands.SendAsync(request, new JsonObject
            {
                ["command"] = "set_permissions",
                ["vhost"] = ApiBody.RequiredText(p, "vhost"),
                ["user"] = ApiBody.RequiredText(p, "user"),
                ["configure"] = ApiBody.RequiredText(p, "configure"),
                ["write"] = ApiBody.RequiredText(p, "write"),
                ["read"] = ApiBody.RequiredText(p, "read"),
            });
        }

        foreach (var p in Items(body, "topic_permissions"))
        {
            await AdminCommands.SendAsync(request, new JsonObject
            {
                ["command"] = "set_topic_permissions",
                ["vhost"] = ApiBody.RequiredText(p, "vhost"),
                ["user"] = ApiBody.RequiredText(p, "user"),
                ["exchange"] = ApiBody.RequiredText(p, "exchange"),
                ["write"] = ApiBody.RequiredText(p, "write"),
                ["read"] = ApiBody.RequiredText(p, "read"),
            });
        }
    }
}
