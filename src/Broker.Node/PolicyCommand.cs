using System.Text.Json.Nodes;

namespace Broker.Node;

/// <summary>
/// `policies set|clear|list` on the node's command line, like rabbitmqctl set_policy /
/// clear_policy / list_policies: it connects to a running node over AMQP and sends the command to
/// its admin endpoint (amq.broker.admin, answered as a direct reply); any node of a cluster serves
/// the whole cluster.
/// </summary>
internal static class PolicyCommand
{
    public const string Usage = """
        usage: Broker.Node policies set NAME PATTERN DEFINITION [--priority N] [--apply-to queues|exchanges|all] [--vhost V] [--uri URI]
               Broker.Node policies clear NAME [--vhost V] [--uri URI]
               Broker.Node policies list [--vhost V] [--uri URI]

          DEFINITION  a JSON object, e.g. '{"message-ttl":60000,"dead-letter-exchange":"dlx"}'; keys: message-ttl,
                      expires, max-length, max-length-bytes, overflow, delivery-limit, dead-letter-exchange,
                      dead-letter-routing-key, alternate-exchange
        """ + AdminClient.ConnectionHelp;

    /// <summary>Runs the command; the exit code is 0 on success, 1 when the broker refused or could not be reached, 2 on bad usage.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var (positional, options) = AdminClient.Parse(args);
        var command = new JsonObject();
        switch (positional.FirstOrDefault())
        {
            case "set" when positional.Count == 4:
                JsonNode? definition;
                try
                {
                    definition = JsonNode.Parse(positional[3]);
                }
                catch (System.Text.Json.JsonException e)
                {
                    stderr.WriteLine($"policies: DEFINITION is not JSON: {e.Message}");
                    return 2;
                }

                if (!int.TryParse(options.GetValueOrDefault("priority", "0"), out int priority))
                {
                    stderr.WriteLine("policies: --priority needs an integer");
                    return 2;
                }

                command["command"] = "set_policy";
                command["name"] = positional[1];
                command["pattern"] = positional[2];
                command["definition"] = definition;
                command["priority"] = priority;
                command["apply-to"] = options.GetValueOrDefault("apply-to", "all");
                break;
            case "clear" when positional.Count == 2:
                command["command"] = "clear_policy";
                command["name"] = positional[1];
                break;
            case "list" when positional.Count == 1:
                command["command"] = "list_policies";
                break;
            default:
                stderr.WriteLine(Usage);
                return 2;
        }

        return await AdminClient.RunAsync("policies", command, options, stdout, stderr,
            AdminClient.Table("policies", "vhost", "name", "pattern", "apply-to", "priority", "definition"));
    }
}
