using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Broker.Node.Management;

/// <summary>An AMQP error met on behalf of an API request, as the HTTP status RabbitMQ's management answers with.</summary>
public sealed class AmqpOperationException(int status, string error, string reason) : Exception(reason)
{
    public int Status { get; } = status;
    public string Error { get; } = error;

    /// <summary>RabbitMQ's mapping: 404 stays 404, 403/530 are 401 not_authorised, 406 and the other soft errors are 400.</summary>
    public static AmqpOperationException From(ushort code, string text)
    {
        // "PRECONDITION_FAILED - inequivalent arg ..." -> "inequivalent arg ..."
        int dash = text.IndexOf(" - ", StringComparison.Ordinal);
        string reason = dash > 0 && text[..dash].All(c => char.IsUpper(c) || c == '_') ? text[(dash + 3)..] : text;
        return code switch
        {
            404 => new AmqpOperationException(404, "not_found", reason),
            403 or 530 => new AmqpOperationException(401, "not_authorised", reason),
            320 or 541 => new AmqpOperationException(500, "internal_error", reason),
            _ => new AmqpOperationException(400, "bad_request", reason),
        };
    }
}

/// <summary>
/// Runs an API request's topology and message operations as the request's user over an AMQP
/// connection to this node: the same code, checks and errors as any client's, permissions
/// included (RabbitMQ's management does the same over its internal connections).
/// </summary>
public static class AmqpSession
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static async Task<T> RunAsync<T>(ApiRequest request, string vhost, Func<IChannel, CancellationToken, Task<T>> operation,
        bool confirms = false)
    {
        var endpoint = request.Node.AmqpEndpoint;
        var factory = new ConnectionFactory
        {
            Endpoint = new AmqpTcpEndpoint(endpoint.Address.ToString(), endpoint.Port),
            UserName = request.User.Name,
            Password = request.User.Password,
            VirtualHost = vhost,
            AutomaticRecoveryEnabled = false,
            TopologyRecoveryEnabled = false,
            ClientProvidedName = $"management API ({request.User.Name})",
        };
        // Marks the connection as the API's own: its close is not listed among the recent closes.
        factory.ClientProperties[Broker.Actors.Connection.ConnectionActor.InternalClientProperty] = true;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(request.Http.RequestAborted);
        timeout.CancelAfter(Timeout);
        try
        {
            await using var connection = await factory.CreateConnectionAsync(timeout.Token);
            await using var channel = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: confirms, publisherConfirmationTrackingEnabled: confirms),
                timeout.Token);
            var result = await operation(channel, timeout.Token);
            request.Node.Invalidate();
            return result;
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason is { } reason)
        {
            throw AmqpOperationException.From(reason.ReplyCode, reason.ReplyText);
        }
        catch (BrokerUnreachableException e) when (e.InnerException is OperationInterruptedException { ShutdownReason: { } reason })
        {
            throw AmqpOperationException.From(reason.ReplyCode, reason.ReplyText);
        }
        catch (AlreadyClosedException e) when (e.ShutdownReason is { } reason)
        {
            throw AmqpOperationException.From(reason.ReplyCode, reason.ReplyText);
        }
        catch (BrokerUnreachableException e) when (e.InnerException is AuthenticationFailureException auth)
        {
            // The HTTP login passed, the node's own AMQP login did not (a loopback-only user, and the
            // node's listener is not on loopback).
            throw new AmqpOperationException(401, "not_authorised", $"the node refused the API's AMQP login for this user: {auth.Message}");
        }
    }

    public static Task RunAsync(ApiRequest request, string vhost, Func<IChannel, CancellationToken, Task> operation) =>
        RunAsync(request, vhost, async (channel, ct) =>
        {
            await operation(channel, ct);
            return true;
        });
}
