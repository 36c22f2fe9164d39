using System.Text;
using System.Text.Json.Nodes;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Broker.Node;

/// <summary>
/// The command line's way to a running node: a JSON command published to the admin endpoint
/// (amq.broker.admin on the default exchange), answered as a direct reply; any node of a cluster
/// serves the whole cluster. Shared by `policies`, `users`, `vhosts`, `permissions` and
/// `topic-permissions`.
/// </summary>
internal static class AdminClient
{
    public const string ConnectionHelp = """
          --vhost     the vhost the command acts on (default: the one in --uri, else /)
          --uri       the node to talk to, as an administrator (default amqp://BROKER_DEFAULT_USER:BROKER_DEFAULT_PASS@127.0.0.1:BROKER_AMQP_PORT/,
                      guest/guest and 5672 when unset)
        """;

    /// <summary>Splits arguments into positional ones and --name value options.</summary>
    public static (List<string> Positional, Dictionary<string, string> Options) Parse(string[] args)
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

        return (positional, options);
    }

    /// <summary>Sends the command and prints the answer; the exit code is 0 on success, 1 when the broker refused or could not be reached.</summary>
    public static async Task<int> RunAsync(string tool, JsonObject command, Dictionary<string, string> options, TextWriter stdout,
        TextWriter stderr, Action<JsonObject, TextWriter> print)
    {
        if (options.TryGetValue("vhost", out var vhost))
        {
            command["vhost"] = vhost;
        }

        JsonObject answer;
        try
        {
            answer = await SendAsync(options.GetValueOrDefault("uri") ?? DefaultUri(), command);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            stderr.WriteLine($"{tool}: could not talk to the broker: {e.Message}");
            return 1;
        }

        if ((bool?)answer["ok"] != true)
        {
            stderr.WriteLine($"{tool}: {(string?)answer["error"] ?? answer.ToJsonString()}");
            return 1;
        }

        print(answer, stdout);
        return 0;
    }

    /// <summary>Prints a listing's rows as tab-separated columns under a header, or "ok".</summary>
    public static Action<JsonObject, TextWriter> Table(string key, params string[] columns) => (answer, stdout) =>
    {
        if (answer[key] is not JsonArray rows)
        {
            stdout.WriteLine("ok");
            return;
        }

        stdout.WriteLine(string.Join('\t', columns));
        foreach (var row in rows)
        {
            stdout.WriteLine(string.Join('\t', columns.Select(c => row![c] switch
            {
                JsonValue v => v.ToString(),
                { } node => node.ToJsonString(),
                null => string.Empty,
            })));
        }
    };

    private static string DefaultUri()
    {
        string user = Environment.GetEnvironmentVariable("BROKER_DEFAULT_USER") ?? "guest";
        string pass = Environment.GetEnvironmentVariable("BROKER_DEFAULT_PASS") ?? "guest";
        string port = Environment.GetEnvironmentVariable("BROKER_AMQP_PORT") ?? "5672";
        return $"amqp://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(pass)}@127.0.0.1:{port}/";
    }

    private static async Task<JsonObject> SendAsync(string uri, JsonObject command)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var factory = new ConnectionFactory { Uri = new Uri(uri), AutomaticRecoveryEnabled = false, ClientProvidedName = "broker-cli" };
        await using var connection = await factory.CreateConnectionAsync(timeout.Token);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: timeout.Token);
        return await AskAsync(channel, command, timeout.Token);
    }

    /// <summary>Publishes the command to the admin endpoint on the channel and waits for its answer (a direct reply).</summary>
    public static async Task<JsonObject> AskAsync(IChannel channel, JsonObject command, CancellationToken ct)
    {
        var answer = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, ea) =>
        {
            answer.TrySetResult(JsonNode.Parse(Encoding.UTF8.GetString(ea.Body.Span))!.AsObject());
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync("amq.rabbitmq.reply-to", autoAck: true, consumer, ct);
        var props = new BasicProperties { ReplyTo = "amq.rabbitmq.reply-to", ContentType = "application/json" };
        await channel.BasicPublishAsync("", "amq.broker.admin", false, props, Encoding.UTF8.GetBytes(command.ToJsonString()), ct);
        return await answer.Task.WaitAsync(ct);
    }
}
