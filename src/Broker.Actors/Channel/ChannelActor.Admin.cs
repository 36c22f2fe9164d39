using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Event;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Broker.Actors.Cluster;
using Broker.Actors.Policies;
using Broker.Actors.Queues;
using Broker.Protocol;

namespace Broker.Actors.Channel;

/// <summary>
/// The node's command line (`Broker.Node policies|users|vhosts|permissions ...`) talks to a
/// running cluster over AMQP: it publishes a JSON command to the default exchange with routing
/// key amq.broker.admin and reply_to amq.rabbitmq.reply-to, and gets the JSON answer as a direct
/// reply. Any node answers for the whole cluster. A command acts on the vhost it names ("vhost"),
/// else the one the connection is in. Policy commands need the administrator or policymaker tag,
/// the others administrator (ChannelActor.AdminAccess.cs).
/// </summary>
public sealed partial class ChannelActor
{
    public const string AdminRoutingKey = "amq.broker.admin";
    private static readonly TimeSpan AdminTimeout = TimeSpan.FromSeconds(30);

    private void OnAdminCommand(Message message)
    {
        if (message.Properties.ReplyTo is not { } replyTo || !replyTo.StartsWith(DirectReplyPrefix, StringComparison.Ordinal))
        {
            throw AmqpException.PreconditionFailed($"commands to {AdminRoutingKey} need reply_to {DirectReplyTo}");
        }

        string? correlationId = message.Properties.CorrelationId;
        // Resolved here, on the actor's thread: answers may come from a task.
        var target = ResolveReplyAddress(replyTo, out string secret);
        void Answer(JsonObject answer)
        {
            var props = new BasicProperties { CorrelationId = correlationId, ContentType = "application/json" };
            var reply = new Message("", replyTo, props, ContentHeader.EncodeProperties(props), Encoding.UTF8.GetBytes(answer.ToJsonString()));
            target?.Tell(new DirectReply(reply, secret));
        }

        JsonObject command;
        try
        {
            command = JsonNode.Parse(message.Body)?.AsObject() ?? throw new JsonException("not a JSON object");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            Answer(Failure($"the command is not a JSON object: {e.Message}"));
            return;
        }

        try
        {
            string vhost = (string?)command["vhost"] ?? VHost;
            string name = (string?)command["command"] ?? string.Empty;
            if (AdminRefusal(name, vhost) is { } refused)
            {
                _log.Warning("channel {0} of connection {1}: admin command '{2}' refused: {3}", _number, _connection.ConnectionId, name, refused);
                Answer(Failure(refused));
                return;
            }

            if (!RunAccessCommand(command, vhost, Answer))
            {
                RunAdminCommand(command, vhost, Answer);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            Answer(Failure($"bad command: {e.Message}"));
        }
    }

    private void RunAdminCommand(JsonObject command, string vhost, Action<JsonObject> Answer)
    {
        switch ((string?)command["command"])
        {
            case "list_policies":
                var list = new JsonArray();
                foreach (var p in _broker.Policies.All(vhost))
                {
                    list.Add(p.ToJson());
                }

                Answer(new JsonObject { ["ok"] = true, ["policies"] = list });
                return;
            case "set_policy":
                var policy = new Policy(vhost, (string?)command["name"] ?? "", (string?)command["pattern"] ?? "",
                    (string?)command["apply-to"] ?? Policy.All, (int?)command["priority"] ?? 0,
                    ToTable(command["definition"]?.AsObject() ?? new JsonObject()));

                string? invalid = policy.Name.Length == 0 ? "a policy needs a name"
                    : _broker.Access.Current.FindVHost(vhost) is null ? $"no vhost '{vhost}'"
                    : policy.Validate();
                if (invalid is not null)
                {
                    Answer(Failure(invalid));
                    return;
                }

                AskPolicyEntity(vhost, policy.Name, new SetPolicy(policy), Answer);
                return;
            case "list_alarms":
            case "set_vm_memory_high_watermark":
            case "set_disk_free_limit":
                RunAlarmCommand(command, Answer);
                return;
            case "clear_policy":
                AskPolicyEntity(vhost, (string?)command["name"] ?? "", new ClearPolicy(vhost, (string?)command["name"] ?? ""), Answer);
                return;
            default:
                Answer(Failure($"unknown command '{(string?)command["command"]}'"));
                return;
        }
    }

    /// <summary>
    /// Why this connection's user may not run the command, or null: administrators may run every
    /// one; policymakers the policy commands, in vhosts where they have permissions (as in RabbitMQ).
    /// </summary>
    private string? AdminRefusal(string command, string vhost)
    {
        var access = _broker.Access.Current;
        var user = access.FindUser(_connection.User);
        bool policyCommand = command.EndsWith("_policy", StringComparison.Ordinal) || command == "list_policies";
        if (user is not null && user.IsAdministrator)
        {
            return null;
        }

        if (!policyCommand)
        {
            return $"access refused: user '{_connection.User}' is not an administrator";
        }

        if (user is null || !user.MayManagePolicies)
        {
            return $"access refused: user '{_connection.User}' is neither an administrator nor a policymaker";
        }

        return access.MayAccessVHost(user.Name, vhost) ? null : $"access refused: user '{_connection.User}' has no permissions in vhost '{vhost}'";
    }

    private void AskPolicyEntity(string vhost, string name, object request, Action<JsonObject> answer)
    {
        // Answered from a task: the reply goes straight to this channel's reply address.
        _broker.PolicyRegion.Ask<object>(new ShardingEnvelope(EntityIds.For(vhost, name), request), AdminTimeout)
            .ContinueWith(t => answer(t.IsCompletedSuccessfully
                ? t.Result is PolicyFailed f ? Failure(f.Reason) : new JsonObject { ["ok"] = true }
                : Failure($"no answer from the policy store: {t.Exception?.GetBaseException().Message}")), TaskScheduler.Default);
    }

    private static JsonObject Failure(string reason) => new() { ["ok"] = false, ["error"] = reason };

    private static FieldTable ToTable(JsonObject json)
    {
        var table = new FieldTable();
        foreach (var (key, node) in json)
        {
            table[key] = node?.GetValueKind() switch
            {
                JsonValueKind.Number => node.GetValue<long>(),
                JsonValueKind.String => node.GetValue<string>(),
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new FormatException($"'{key}' must be a number or a string"),
            };
        }

        return table;
    }
}
