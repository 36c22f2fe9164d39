using System.Text.Json.Nodes;
using Broker.Actors.Access;

namespace Broker.Node.Management;

/// <summary>/api/users, /api/vhosts, /api/permissions and /api/topic-permissions, read from the node's replica of the access store and changed through the admin endpoint.</summary>
public static class AccessApi
{
    public static void Map(ApiRouter r) => r
        .Map("GET", "users", request => Admin(request, () => request.List(request.Access.Store.Users.Select(UserJson))))
        .Map("GET", "users/without-permissions", request => Admin(request, () => request.List(request.Access.Store.Users
            .Where(u => !request.Access.Store.Permissions.Any(p => p.User == u.Name)).Select(UserJson))))
        .Map("GET", "users/{name}", request => Admin(request, () => request.Json(UserJson(User(request)))))
        .Map("PUT", "users/{name}", PutUser)
        .Map("DELETE", "users/{name}", request => Change(request, () => new JsonObject { ["command"] = "delete_user", ["name"] = User(request).Name }))
        .Map("GET", "users/{name}/permissions", request => Admin(request, () => request.List(request.Access.Store.Permissions
            .Where(p => p.User == User(request).Name).Select(PermissionJson))))
        .Map("GET", "users/{name}/topic-permissions", request => Admin(request, () => request.List(request.Access.Store.TopicPermissions
            .Where(p => p.User == User(request).Name).Select(TopicPermissionJson))))
        .Map("GET", "vhosts", VHosts)
        .Map("GET", "vhosts/{name}", VHost)
        .Map("PUT", "vhosts/{name}", PutVHost)
        .Map("DELETE", "vhosts/{name}", request => Change(request, () => new JsonObject { ["command"] = "delete_vhost", ["name"] = VHostOf(request).Name }))
        .Map("GET", "vhosts/{name}/permissions", request => Admin(request, () => request.List(request.Access.Store.Permissions
            .Where(p => p.VHost == VHostOf(request).Name).Select(PermissionJson))))
        .Map("GET", "vhosts/{name}/topic-permissions", request => Admin(request, () => request.List(request.Access.Store.TopicPermissions
            .Where(p => p.VHost == VHostOf(request).Name).Select(TopicPermissionJson))))
        .Map("GET", "permissions", request => Admin(request, () => request.List(request.Access.Store.Permissions.Select(PermissionJson))))
        .Map("GET", "permissions/{vhost}/{user}", request => Admin(request, () => request.Json(PermissionJson(
            request.Access.Store.Permissions.Find(p => p.VHost == request["vhost"] && p.User == request["user"]) ?? throw ApiException.NotFound()))))
        .Map("PUT", "permissions/{vhost}/{user}", PutPermissions)
        .Map("DELETE", "permissions/{vhost}/{user}", request => Change(request, () => new JsonObject
        {
            ["command"] = "clear_permissions",
            ["vhost"] = request["vhost"],
            ["user"] = (request.Access.Store.Permissions.Find(p => p.VHost == request["vhost"] && p.User == request["user"])
                        ?? throw ApiException.NotFound()).User,
        }))
        .Map("GET", "topic-permissions", request => Admin(request, () => request.List(request.Access.Store.TopicPermissions.Select(TopicPermissionJson))))
        .Map("GET", "topic-permissions/{vhost}/{user}", request => Admin(request, () => request.List(request.Access.Store.TopicPermissions
            .Where(p => p.VHost == request["vhost"] && p.User == request["user"]).Select(TopicPermissionJson))))
        .Map("PUT", "topic-permissions/{vhost}/{user}", PutTopicPermissions)
        .Map("DELETE", "topic-permissions/{vhost}/{user}", request => Change(request, () => new JsonObject
        {
            ["command"] = "clear_topic_permissions",
            ["vhost"] = request["vhost"],
            ["user"] = request["user"],
        }));

    public static JsonObject UserJson(User u) => new()
    {
        ["name"] = u.Name,
        ["password_hash"] = u.PasswordHash,
        ["hashing_algorithm"] = u.HashingAlgorithm,
        ["tags"] = new JsonArray(u.Tags.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
        ["limits"] = new JsonObject(),
    };

    public static JsonObject PermissionJson(Permission p) => new()
    {
        ["user"] = p.User,
        ["vhost"] = p.VHost,
        ["configure"] = p.Configure,
        ["write"] = p.Write,
        ["read"] = p.Read,
    };

    public static JsonObject TopicPermissionJson(TopicPermission p) => new()
    {
        ["user"] = p.User,
        ["vhost"] = p.VHost,
        ["exchange"] = p.Exchange,
        ["write"] = p.Write,
        ["read"] = p.Read,
    };

    /// <summary>RabbitMQ's tags come as an array or a comma-separated string.</summary>
    public static JsonArray Tags(JsonNode? tags) => tags switch
    {
        JsonArray array => new JsonArray(array.Select(t => t is JsonValue v && v.TryGetValue(out string? tag)
            ? (JsonNode?)JsonValue.Create(tag)
            : throw ApiException.BadRequest($"tags must be strings, not {t?.ToJsonString() ?? "null"}")).ToArray()),
        JsonValue value when value.GetValueKind() == System.Text.Json.JsonValueKind.String => new JsonArray(value.GetValue<string>()
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
        _ => new JsonArray(),
    };

    private static Task Admin(ApiRequest request, Func<Task> then)
    {
        request.User.RequireAdministrator();
        return then();
    }

    private static User User(ApiRequest request) => request.Access.FindUser(request["name"]) ?? throw ApiException.NotFound();

    private static VirtualHost VHostOf(ApiRequest request) => request.Access.FindVHost(request["name"]) ?? throw ApiException.NotFound();

    /// <summary>An administrator's change: the rights are checked before the command (and its lookups) is built.</summary>
    private static async Task Change(ApiRequest request, Func<JsonObject> command)
    {
        request.User.RequireAdministrator();
        await AdminCommands.SendAsync(request, command());
        request.Http.Response.StatusCode = 204;
    }

    private static async Task PutUser(ApiRequest request)
    {
        request.User.RequireAdministrator();
        string name = request["name"];
        var body = await request.BodyAsync();
        var tags = Tags(body["tags"]);
        var credentials = new JsonObject();
        if (ApiBody.Text(body, "password") is { } password)
        {
            credentials["password"] = password;
        }
        else if (ApiBody.Text(body, "password_hash") is { } hash)
        {
            credentials["password_hash"] = hash;
            credentials["hashing_algorithm"] = ApiBody.Text(body, "hashing_algorithm") ?? PasswordHashing.Sha256;
        }

        if (request.Access.FindUser(name) is null)
        {
            if (credentials.Count == 0)
            {
                throw ApiException.BadRequest("password or password_hash must be set");
            }

            await AdminCommands.SendAsync(request, With(credentials, new JsonObject { ["command"] = "add_user", ["name"] = name, ["tags"] = tags }));
            await request.Created(true);
            return;
        }

        await AdminCommands.SendAsync(request, new JsonObject { ["command"] = "set_user_tags", ["name"] = name, ["tags"] = tags });
        if (credentials.Count > 0)
        {
            await AdminCommands.SendAsync(request, With(credentials, new JsonObject { ["command"] = "change_password", ["name"] = name }));
        }

        await request.Created(false);
    }

    private static JsonObject With(JsonObject extra, JsonObject command)
    {
        foreach (var (key, value) in extra)
        {
            command[key] = value?.DeepClone();
        }

        return command;
    }

    private static async Task VHosts(ApiRequest request)
    {
        var view = await request.Node.ViewAsync();
        var ctx = request.Node.Broker.Context;
        await request.List(request.Access.Store.VHosts.Where(v => request.User.MaySee(v.Name)).Select(v => VHostJson(ctx, view, v)));
    }

    private static async Task VHost(ApiRequest request)
    {
        var vhost = VHostOf(request);
        if (!request.User.MaySee(vhost.Name))
        {
            throw ApiException.NotAuthorised("User not authorised to access virtual host");
        }

        await request.Json(VHostJson(request.Node.Broker.Context, await request.Node.ViewAsync(), vhost));
    }

    private static JsonObject VHostJson(Broker.Actors.BrokerContext ctx, Broker.Actors.Management.ClusterView view, VirtualHost v)
    {
        var samples = QueuesApi.All(ctx, v.Name).Select(q => view.Queues.GetValueOrDefault((v.Name, q.Name))).Where(s => s is not null).ToList();
        int ready = samples.Sum(s => s!.Ready);
        int unacked = samples.Sum(s => s!.Unacked);
        return new JsonObject
        {
            ["name"] = v.Name,
            ["description"] = v.Description,
            ["tags"] = new JsonArray(),
            ["tracing"] = false,
            ["messages"] = ready + unacked,
            ["messages_ready"] = ready,
            ["messages_unacknowledged"] = unacked,
            ["cluster_state"] = new JsonObject(view.Reports.Select(r => KeyValuePair.Create(r.Node.Name, (JsonNode?)"running"))),
        };
    }

    /// <summary>Adds the vhost (with its amq.* exchanges) and, as RabbitMQ's API does, gives its creator every permission there.</summary>
    private static async Task PutVHost(ApiRequest request)
    {
        request.User.RequireAdministrator();
        string name = request["name"];
        var body = await request.BodyAsync();
        if (request.Access.FindVHost(name) is not null)
        {
            await request.Created(false);
            return;
        }

        await AdminCommands.SendAsync(request, new JsonObject
        {
            ["command"] = "add_vhost",
            ["name"] = name,
            ["description"] = ApiBody.Text(body, "description") ?? string.Empty,
        });
        await AdminCommands.SendAsync(request, new JsonObject
        {
            ["command"] = "set_permissions",
            ["vhost"] = name,
            ["user"] = request.User.Name,
            ["configure"] = ".*",
            ["write"] = ".*",
            ["read"] = ".*",
        });
        await request.Created(true);
    }

    private static async Task PutPermissions(ApiRequest request)
    {
        request.User.RequireAdministrator();
        var body = await request.BodyAsync();
        string vhost = request["vhost"];
        string user = request["user"];
        if (request.Access.FindVHost(vhost) is null || request.Access.FindUser(user) is null)
        {
            throw ApiException.BadRequest(request.Access.FindVHost(vhost) is null ? $"vhost '{vhost}' does not exist" : $"user '{user}' does not exist");
        }

        bool existed = request.Access.Store.Permissions.Any(p => p.VHost == vhost && p.User == user);
        await AdminCommands.SendAsync(request, new JsonObject
        {
            ["command"] = "set_permissions",
            ["vhost"] = vhost,
            ["user"] = user,
            ["configure"] = ApiBody.RequiredText(body, "configure"),
            ["write"] = ApiBody.RequiredText(body, "write"),
            ["read"] = ApiBody.RequiredText(body, "read"),
        });
        await request.Created(!existed);
    }

    private static async Task PutTopicPermissions(ApiRequest request)
    {
        request.User.RequireAdministrator();
        var body = await request.BodyAsync();
        string vhost = request["vhost"];
        string user = request["user"];
        string exchange = ApiBody.RequiredText(body, "exchange");
        bool existed = request.Access.Store.TopicPermissions.Any(p => p.VHost == vhost && p.User == user && p.Exchange == exchange);
        await AdminCommands.SendAsync(request, new JsonObject
        {
            ["command"] = "set_topic_permissions",
            ["vhost"] = vhost,
            ["user"] = user,
            ["exchange"] = exchange,
            ["write"] = ApiBody.RequiredText(body, "write"),
            ["read"] = ApiBody.RequiredText(body, "read"),
        });
        await request.Created(!existed);
    }
}
