using System.Text.Json.Nodes;

namespace Broker.Node;

/// <summary>
/// `users`, `vhosts`, `permissions` and `topic-permissions` on the node's command line, like
/// rabbitmqctl's add_user, set_user_tags, add_vhost, set_vhost_limits, set_permissions,
/// set_topic_permissions...: each is a command to a running node's admin endpoint (AdminClient),
/// applied on every node of the cluster before it returns.
/// </summary>
internal static class AccessCommand
{
    public static readonly string[] Groups = ["users", "vhosts", "permissions", "topic-permissions"];

    public const string Usage = """
        usage: Broker.Node users add NAME PASSWORD [--tags TAG,TAG]      Broker.Node users delete NAME
               Broker.Node users password NAME PASSWORD                  Broker.Node users tags NAME [TAG...]
               Broker.Node users list
               Broker.Node vhosts add NAME [--description TEXT]          Broker.Node vhosts delete NAME
               Broker.Node vhosts limits NAME JSON                       Broker.Node vhosts list
               Broker.Node permissions set USER CONFIGURE WRITE READ [--vhost V]
               Broker.Node permissions clear USER [--vhost V]            Broker.Node permissions list [--vhost V]
               Broker.Node topic-permissions set USER EXCHANGE WRITE READ [--vhost V]
               Broker.Node topic-permissions clear USER [EXCHANGE] [--vhost V]
               Broker.Node topic-permissions list [--vhost V]

          TAG         administrator, monitoring, management, policymaker (or any word)
          JSON        vhost limits, e.g. '{"max-connections":100,"max-queues":10}'; a negative limit removes it
          CONFIGURE, WRITE, READ
                      regular expressions over exchange and queue names ('.*' everything, '' nothing)
        """ + AdminClient.ConnectionHelp;

    /// <summary>Runs `GROUP ARGS...`; the exit code is 0 on success, 1 when the broker refused or could not be reached, 2 on bad usage.</summary>
    public static async Task<int> RunAsync(string group, string[] args, TextWriter stdout, TextWriter stderr)
    {
        var (p, options) = AdminClient.Parse(args);
        string verb = p.FirstOrDefault() ?? string.Empty;
        JsonObject? command = (group, verb, p.Count) switch
        {
            ("users", "add", 3) => new() { ["command"] = "add_user", ["name"] = p[1], ["password"] = p[2], ["tags"] = Tags(options) },
            ("users", "delete", 2) => new() { ["command"] = "delete_user", ["name"] = p[1] },
            ("users", "password", 3) => new() { ["command"] = "change_password", ["name"] = p[1], ["password"] = p[2] },
            ("users", "tags", >= 2) => new() { ["command"] = "set_user_tags", ["name"] = p[1], ["tags"] = Array(p.Skip(2)) },
            ("users", "list", 1) => new() { ["command"] = "list_users" },
            ("vhosts", "add", 2) => new() { ["command"] = "add_vhost", ["name"] = p[1], ["description"] = options.GetValueOrDefault("description", "") },
            ("vhosts", "delete", 2) => new() { ["command"] = "delete_vhost", ["name"] = p[1] },
            ("vhosts", "limits", 3) => Limits(p[1], p[2]),
            ("vhosts", "list", 1) => new() { ["command"] = "list_vhosts" },
            ("permissions", "set", 5) => new()
            {
                ["command"] = "set_permissions", ["user"] = p[1], ["configure"] = p[2], ["write"] = p[3], ["read"] = p[4],
            },
            ("permissions", "clear", 2) => new() { ["command"] = "clear_permissions", ["user"] = p[1] },
            ("permissions", "list", 1) => new() { ["command"] = "list_permissions" },
            ("topic-permissions", "set", 5) => new()
            {
                ["command"] = "set_topic_permissions", ["user"] = p[1], ["exchange"] = p[2], ["write"] = p[3], ["read"] = p[4],
            },
            ("topic-permissions", "clear", 2 or 3) => new()
            {
                ["command"] = "clear_topic_permissions", ["user"] = p[1], ["exchange"] = p.Count == 3 ? p[2] : null,
            },
            ("topic-permissions", "list", 1) => new() { ["command"] = "list_topic_permissions" },
            _ => null,
        };
        if (command is null)
        {
            stderr.WriteLine(Usage);
            return 2;
        }

        var print = group switch
        {
            "users" => AdminClient.Table("users", "name", "tags"),
            "vhosts" => AdminClient.Table("vhosts", "name", "description", "max-connections", "max-queues"),
            "permissions" => AdminClient.Table("permissions", "user", "vhost", "configure", "write", "read"),
            _ => AdminClient.Table("topic_permissions", "user", "vhost", "exchange", "write", "read"),
        };
        return await AdminClient.RunAsync(group, command, options, stdout, stderr, print);
    }

    private static JsonArray Tags(Dictionary<string, string> options) =>
        Array(options.GetValueOrDefault("tags", "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static JsonArray Array(IEnumerable<string> items) => new(items.Select(i => (JsonNode?)JsonValue.Create(i)).ToArray());

    /// <summary>set_vhost_limits takes rabbitmqctl's JSON ({"max-connections":N,"max-queues":N}); null when it is not that.</summary>
    private static JsonObject? Limits(string vhost, string json)
    {
        try
        {
            var limits = JsonNode.Parse(json)?.AsObject();
            if (limits is null || limits.Any(l => l.Key is not ("max-connections" or "max-queues") || l.Value?.GetValueKind() != System.Text.Json.JsonValueKind.Number))
            {
                return null;
            }

            var command = new JsonObject { ["command"] = "set_vhost_limits", ["name"] = vhost };
            foreach (var (key, value) in limits)
            {
                command[key] = (long)value!;
            }

            return command;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }
}
