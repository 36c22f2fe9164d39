using System.Text;
using System.Text.Json.Nodes;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

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
        usage: Broker.Node policies set NAME PATTERN DEFINITION [--vhost V] [--priority N] [--apply-to queues|exchanges|all] [--uri URI]
               Broker.Node policies clear NAME [--vhost V] [--uri URI]
               Broker.Node policies list [--vhost V] [--uri URI]

          DEFINITION  a JSON object, e.g. '{"message-ttl":60000,"dead-letter-exchange":"dlx"}'; keys: message-ttl,
                      expires, max-length, max-length-bytes, overflow, delivery-limit, dead-letter-exchange,
                      dead-letter-routing-key, alternate-exchange
          --uri       the node to talk to (default amqp://BROKER_DEFAULT_USER:BROKER_DEFAULT_PASS@127.0.0.1:BROKER_AMQP_PORT/,
                      guest/guest and 5672 when unset)
        """;

    /// <summary>Runs the command; the exit code is 0 on success, 1 when the broker refused or could not be reached, 2 on bad usage.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var positional = new List<string>();
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
            {
                options[args[i][2..]] = args[++i];
            }
            else
            {
                positional.Add(args[i]);
            }
        }

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

        JsonObject answer;
        try
        {
            // The command acts on the vhost the connection is in.
            answer = await SendAsync(options.GetValueOrDefault("uri") ?? DefaultUri(), options.GetValueOrDefault("vhost"), command);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            stderr.WriteLine($"policies: could not talk to the broker: {e.Message}");
            return 1;
        }

        if ((bool?)answer["ok"] != true)
        {
            stderr.WriteLine($"policies: {(string?)answer["error"] ?? answer.ToJsonString()}");
            return 1;
        }

        if (answer["policies"] is JsonArray list)
        {
            stdout.WriteLine("vhost\tname\tpattern\tapply-to\tpriority\tdefinition");
            foreach (var p in list)
            {
                stdout.WriteLine($"{p!["vhost"]}\t{p["name"]}\t{p["pattern"]}\t{p["apply-to"]}\t{p["priority"]}\t{p["definition"]!.ToJsonString()}");
            }
        }
        else
        {
            stdout.WriteLine("ok");
        }

        return 0;
    }

    private static string DefaultUri()
    {
        string user = Environment.GetEnvironmentVariable("BROKER_DEFAULT_USER") ?? "guest";
        string pass = Environment.GetEnvironmentVariable("BROKER_DEFAULT_PASS") ?? "guest";
        string port = Environment.GetEnvironmentVariable("BROKER_AMQP_PORT") ?? "5672";
        return $"amqp://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(pass)}@127.0.0.1:{port}/";
    }

    private static async Task<JsonObject> SendAsync(string uri, string? vhost, JsonObject command)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var factory = new ConnectionFactory { Uri = new Uri(uri), AutomaticRecoveryEnabled = false, ClientProvidedName = "broker-cli" };
        if (vhost is not null)
        {
            factory.VirtualHost = vhost;
        }

        await using var connection = await factory.CreateConnectionAsync(timeout.Token);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: timeout.Token);
        var answer = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, ea) =>
        {
            answer.TrySetResult(JsonNode.Parse(Encoding.UTF8.GetString(ea.Body.Span))!.AsObject());
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync("amq.rabbitmq.reply-to", autoAck: true, consumer, timeout.Token);
        var props = new BasicProperties { ReplyTo = "amq.rabbitmq.reply-to", ContentType = "application/json" };
        await channel.BasicPublishAsync("", "amq.broker.admin", false, props, Encoding.UTF8.GetBytes(command.ToJsonString()), timeout.Token);
        return await answer.Task.WaitAsync(timeout.Token);
    }
}
