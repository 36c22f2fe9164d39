using System.Text.Json.Nodes;

namespace Broker.Node.Management;

/// <summary>
/// Changes to users, vhosts, permissions and policies go to the node's admin endpoint as the
/// request's user, like the command line's: the same authorisation (administrator, policymaker)
/// and the same cluster-wide application as rabbitmqctl-style commands (AdminClient.AskAsync).
/// </summary>
public static class AdminCommands
{
    public static async Task<JsonObject> SendAsync(ApiRequest request, JsonObject command)
    {
        var answer = await AmqpSession.RunAsync(request, ConnectVHost(request), (channel, ct) => AdminClient.AskAsync(channel, command, ct));
        if ((bool?)answer["ok"] == true)
        {
            return answer;
        }

        string error = (string?)answer["error"] ?? "refused";
        throw error.StartsWith("access refused", StringComparison.Ordinal)
            ? ApiException.NotAuthorised(error)
            : error.Contains("does not exist", StringComparison.Ordinal) || error.StartsWith("no ", StringComparison.Ordinal)
                ? new ApiException(404, "Object Not Found", error)
                : ApiException.BadRequest(error);
    }

    /// <summary>The admin endpoint is reached through a vhost the user may open ("/" if they can, like the command line).</summary>
    private static string ConnectVHost(ApiRequest request)
    {
        var vhosts = request.Access.Store.VHosts.Select(v => v.Name).Where(v => request.Access.MayAccessVHost(request.User.Name, v)).ToList();
        return vhosts.Contains("/") ? "/" : vhosts.FirstOrDefault()
            ?? throw ApiException.NotAuthorised($"user '{request.User.Name}' has permissions in no vhost, so cannot reach the admin endpoint");
    }
}
