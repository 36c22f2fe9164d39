using System.Text;
using System.Text.Json.Nodes;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Broker.Node.Management;

/// <summary>
/// Changes to users, vhosts, permissions and policies go to the node's admin endpoint as the
/// request's user, like the command line's: the same authorisation (administrator, policymaker)
/// and the same cluster-wide application as rabbitmqctl-style commands.
/// </summary>
public static class AdminCommands
{
    public static async Task<JsonObject> SendAsync(ApiRequest request, JsonObject command)
    {
        var answer = await AmqpSession.RunAsync(request, ConnectVHost(request), async (channel, ct) =>
        {
            var reply = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += (_, ea) =>
            {
                reply.TrySetResult(JsonNode.Parse(Encoding.UTF8.GetString(ea.Body.Span))!.AsObject());
                return Task.CompletedTask;
            };
            await channel.BasicConsumeAsync("amq.rabbitmq.reply-to", autoAck: true, consumer, ct);
            var props = new BasicProperties { ReplyTo = "amq.rabbitmq.reply-to", ContentType = "application/json" };
            await channel.BasicPublishAsync("", "amq.broker.admin", false, props, Encoding.UTF8.GetBytes(command.ToJsonString()), ct);
            return await reply.Task.WaitAsync(ct);
        });
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
