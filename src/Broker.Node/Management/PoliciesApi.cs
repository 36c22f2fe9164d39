using System.Text.Json.Nodes;
using Broker.Actors.Policies;

namespace Broker.Node.Management;

/// <summary>/api/policies: read from the node's replica, changed through the admin endpoint (administrators and policymakers).</summary>
public static class PoliciesApi
{
    public static void Map(ApiRouter r) => r
        .Map("GET", "policies", request => List(request, null))
        .Map("GET", "policies/{vhost}", request => List(request, request["vhost"]))
        .Map("GET", "policies/{vhost}/{name}", request => request.Json(Find(request).ToJson()))
        .Map("PUT", "policies/{vhost}/{name}", Put)
        .Map("DELETE", "policies/{vhost}/{name}", async request =>
        {
            var policy = Find(request);
            await AdminCommands.SendAsync(request, new JsonObject { ["command"] = "clear_policy", ["vhost"] = policy.VHost, ["name"] = policy.Name });
            await request.NoContent();
        });

    private static Policy Find(ApiRequest request)
    {
        RequirePolicymaker(request);
        request.User.RequireVHost(request.Access, request["vhost"]);
        return request.Node.Broker.Context.Policies.All(request["vhost"]).FirstOrDefault(p => p.Name == request["name"])
               ?? throw ApiException.NotFound();
    }

    private static void RequirePolicymaker(ApiRequest request)
    {
        if (!request.User.MayManagePolicies)
        {
            throw ApiException.NotAuthorised("Not policymaker user");
        }
    }

    private static Task List(ApiRequest request, string? vhost)
    {
        RequirePolicymaker(request);
        if (vhost is not null)
        {
            request.User.RequireVHost(request.Access, vhost);
        }

        var vhosts = vhost is not null ? [vhost] : request.Access.Store.VHosts.Select(v => v.Name).Where(request.User.MaySee);
        return request.List(vhosts.SelectMany(v => request.Node.Broker.Context.Policies.All(v)).Select(p => p.ToJson()));
    }

    private static async Task Put(ApiRequest request)
    {
        string vhost = request["vhost"];
        string name = request["name"];
        RequirePolicymaker(request);
        request.User.RequireVHost(request.Access, vhost);
        var body = await request.BodyAsync();
        bool existed = request.Node.Broker.Context.Policies.All(vhost).Any(p => p.Name == name);
        await AdminCommands.SendAsync(request, Command(vhost, name, body));
        await request.Created(!existed);
    }

    /// <summary>The admin endpoint's set_policy command for a policy as the API (and definitions files) write one.</summary>
    public static JsonObject Command(string vhost, string name, JsonObject body) => new()
    {
        ["command"] = "set_policy",
        ["vhost"] = vhost,
        ["name"] = name,
        ["pattern"] = ApiBody.RequiredText(body, "pattern"),
        ["apply-to"] = ApiBody.Text(body, "apply-to") ?? Policy.All,
        ["priority"] = ApiBody.Number(body, "priority", 0),
        ["definition"] = body["definition"]?.DeepClone() as JsonObject ?? throw ApiException.BadRequest("definition must be an object"),
    };
}
