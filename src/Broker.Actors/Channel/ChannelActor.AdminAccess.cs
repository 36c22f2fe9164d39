using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Akka.Cluster.Sharding;
using Broker.Actors.Access;

namespace Broker.Actors.Channel;

/// <summary>
/// The admin endpoint's commands on users, vhosts and permissions (like rabbitmqctl's): each
/// change goes to the cluster's AccessActor and is answered once every node has it. Passwords
/// arrive in clear over the admin connection and are hashed here; the store never sees them.
/// </summary>
public sealed partial class ChannelActor
{
    /// <summary>Runs the command if it is one of these; false if it is not.</summary>
    private bool RunAccessCommand(JsonObject command, string vhost, Action<JsonObject> answer)
    {
        var store = _broker.Access.Current.Store;
        string Required(string key) => (string?)command[key] is { Length: > 0 } v ? v : throw new FormatException($"'{key}' is missing");
        string Pattern(string key) => (string?)command[key] ?? throw new FormatException($"'{key}' is missing");
        // As RabbitMQ's internal users: a blank password never logs in, so it is not accepted either.
        string Password() => (string?)command["password"] is { Length: > 0 } p ? p : throw new FormatException("a password must not be empty");
        // A clear password is hashed here; a stored hash (definitions import, the HTTP API's password_hash) is taken as it is.
        (string Hash, string Algorithm) Credentials()
        {
            if ((string?)command["password_hash"] is not { } hash)
            {
                return (PasswordHashing.Hash(Password()), PasswordHashing.Sha256);
            }

            string algorithm = (string?)command["hashing_algorithm"] is { Length: > 0 } a ? a : PasswordHashing.Sha256;
            return PasswordHashing.IsKnown(algorithm) ? (hash, algorithm) : throw new FormatException($"unknown hashing algorithm '{algorithm}'");
        }

        switch ((string?)command["command"])
        {
            case "list_users":
                answer(Listing("users", store.Users.Select(u => new JsonObject
                {
                    ["name"] = u.Name,
                    ["tags"] = new JsonArray(u.Tags.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
                })));
                return true;
            case "add_user":
                var (hash, algorithm) = Credentials();
                ChangeAccess(new AddUser(new User(Required("name"), hash, algorithm, Tags(command))), answer);
                return true;
            case "change_password":
                var (newHash, newAlgorithm) = Credentials();
                ChangeAccess(new SetPassword(Required("name"), newHash, newAlgorithm), answer);
                return true;
            case "set_user_tags":
                ChangeAccess(new SetUserTags(Required("name"), Tags(command)), answer);
                return true;
            case "delete_user":
                ChangeAccess(new DeleteUser(Required("name")), answer);
                return true;
            case "list_vhosts":
                answer(Listing("vhosts", store.VHosts.Select(v => new JsonObject
                {
                    ["name"] = v.Name,
                    ["description"] = v.Description,
                    ["max-connections"] = v.MaxConnections,
                    ["max-queues"] = v.MaxQueues,
                })));
                return true;
            case "add_vhost":
                string added = Required("name");
                ChangeAccess(new AddVHost(added, (string?)command["description"] ?? string.Empty), answer,
                    () => _broker.DeclareBuiltInExchangesAsync(added));
                return true;
            case "delete_vhost":
                string deleted = Required("name");
                ChangeAccess(new DeleteVHost(deleted), answer, () => VHostContents.DeleteAsync(_broker, deleted));
                return true;
            case "set_vhost_limits":
                ChangeAccess(new SetVHostLimits(Required("name"), (long?)command["max-connections"], (long?)command["max-queues"]), answer);
                return true;
            case "list_permissions":
                answer(Listing("permissions", store.Permissions.Where(p => p.VHost == vhost).Select(p => new JsonObject
                {
                    ["user"] = p.User,
                    ["vhost"] = p.VHost,
                    ["configure"] = p.Configure,
                    ["write"] = p.Write,
                    ["read"] = p.Read,
                })));
                return true;
            case "set_permissions":
                ChangeAccess(new SetPermissions(new Permission(Required("user"), vhost, Pattern("configure"), Pattern("write"), Pattern("read"))),
                    answer);
                return true;
            case "clear_permissions":
                ChangeAccess(new ClearPermissions(Required("user"), vhost), answer);
                return true;
            case "list_topic_permissions":
                answer(Listing("topic_permissions", store.TopicPermissions.Where(p => p.VHost == vhost).Select(p => new JsonObject
                {
                    ["user"] = p.User,
                    ["vhost"] = p.VHost,
                    ["exchange"] = p.Exchange,
                    ["write"] = p.Write,
                    ["read"] = p.Read,
                })));
                return true;
            case "set_topic_permissions":
                ChangeAccess(new SetTopicPermissions(new TopicPermission(Required("user"), vhost, Required("exchange"), Pattern("write"),
                    Pattern("read"))), answer);
                return true;
            case "clear_topic_permissions":
                ChangeAccess(new ClearTopicPermissions(Required("user"), vhost, (string?)command["exchange"]), answer);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Sends the change to the AccessActor; <paramref name="then"/> runs once every node has it, before the answer.</summary>
    private void ChangeAccess(AccessChange change, Action<JsonObject> answer, Func<Task>? then = null)
    {
        _log.Info("channel {0} of connection {1}: user '{2}' asks: {3}", _number, _connection.ConnectionId, _connection.User, change.Describe());
        _broker.AccessRegion.Ask<object>(new ShardingEnvelope(AccessActor.EntityId, new ChangeAccess(change)), AdminTimeout)
            .ContinueWith(async t =>
            {
                if (!t.IsCompletedSuccessfully)
                {
                    answer(Failure($"no answer from the access store: {t.Exception?.GetBaseException().Message}"));
                    return;
                }

                if (t.Result is AccessFailed failed)
                {
                    answer(Failure(failed.Reason));
                    return;
                }

                try
                {
                    if (then is not null)
                    {
                        await then();
                    }

                    answer(new JsonObject { ["ok"] = true });
                }
                catch (Exception e)
                {
                    answer(Failure($"changed, but what follows failed: {e.GetBaseException().Message}"));
                }
            }, TaskScheduler.Default);
    }

    private static string[] Tags(JsonObject command) =>
        command["tags"] is JsonArray tags ? tags.Select(t => (string?)t ?? string.Empty).Where(t => t.Length > 0).ToArray() : [];

    private static JsonObject Listing(string key, IEnumerable<JsonObject> items) =>
        new() { ["ok"] = true, [key] = new JsonArray(items.Cast<JsonNode?>().ToArray()) };
}
