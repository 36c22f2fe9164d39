using System.Net;
using System.Text;
using Akka.Event;
using Microsoft.AspNetCore.Http;

namespace Broker.Node.Management;

/// <summary>
/// HTTP Basic authentication against the broker's users, as RabbitMQ's management does it: a
/// loopback-only user (guest) only from loopback, and only users with a management tag. Failed
/// logins count towards the same per-address throttle as AMQP logins.
/// </summary>
public static class ApiAuthentication
{
    public const string Realm = "Basic realm=\"RabbitMQ Management\"";

    /// <summary>The request's user, or throws the 401 RabbitMQ would answer.</summary>
    public static async Task<ApiUser> AuthenticateAsync(HttpContext http, ManagementNode node)
    {
        var broker = node.Broker.Context;
        string header = http.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            Challenge(http);
            throw new ApiException(401, "not_authorized", "Login failed");
        }

        string name;
        string password;
        try
        {
            string decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
            int colon = decoded.IndexOf(':');
            (name, password) = colon < 0 ? (decoded, string.Empty) : (decoded[..colon], decoded[(colon + 1)..]);
        }
        catch (FormatException)
        {
            Challenge(http);
            throw new ApiException(401, "not_authorized", "Login failed");
        }

        var remote = http.Connection.RemoteIpAddress is { } address ? new IPEndPoint(address, http.Connection.RemotePort) : null;
        var access = broker.Access.Current;
        var user = node.Authenticator.Authenticate(name, password, remote, out string failure);
        if (user is null)
        {
            broker.LoginFailures.Failed(remote, name);
        }

        var delay = broker.LoginFailures.DelayFor(remote, name);
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, http.RequestAborted);
        }

        if (user is null)
        {
            node.Broker.Actors.Log.Warning("HTTP API login from {0} refused: {1}", remote, failure);
            Challenge(http);
            throw new ApiException(401, "not_authorized", "Login failed");
        }

        var apiUser = new ApiUser(user, password, access);
        if (!apiUser.IsManagementUser)
        {
            throw ApiException.NotAuthorised("Not management user");
        }

        return apiUser;
    }

    /// <summary>Asks a browser for credentials, except for the web UI's own requests (it has its login form).</summary>
    private static void Challenge(HttpContext http)
    {
        if (!http.Request.Headers.ContainsKey("X-Requested-With"))
        {
            http.Response.Headers.WWWAuthenticate = Realm;
        }
    }
}
