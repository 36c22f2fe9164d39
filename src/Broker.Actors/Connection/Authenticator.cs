using System.Net;
using System.Text;
using Broker.Protocol;

namespace Broker.Actors.Connection;

/// <summary>
/// SASL PLAIN and AMQPLAIN against the configured users. A loopback-only user (guest by default)
/// is refused from any other address, as RabbitMQ's loopback_users does.
/// </summary>
public sealed class Authenticator
{
    public const string Mechanisms = "PLAIN AMQPLAIN";

    private readonly IReadOnlyList<UserCredential> _users;

    public Authenticator(IReadOnlyList<UserCredential> users) => _users = users;

    /// <summary>The authenticated user's name, or null with the reason in <paramref name="failure"/>.</summary>
    public string? Authenticate(string mechanism, byte[] response, EndPoint? remote, out string failure)
    {
        string? user, password;
        switch (mechanism)
        {
            case "PLAIN":
                (user, password) = ParsePlain(response);
                break;
            case "AMQPLAIN":
                (user, password) = ParseAmqPlain(response);
                break;
            default:
                throw AmqpException.CommandInvalid($"unknown authentication mechanism '{mechanism}'");
        }

        var credential = _users.FirstOrDefault(u => u.Name == user);
        if (user is null || credential is null || credential.Password != password)
        {
            failure = $"invalid credentials for user '{user}'";
            return null;
        }

        if (credential.LoopbackOnly && !IsLoopback(remote))
        {
            failure = $"user '{user}' can only connect via localhost";
            return null;
        }

        failure = string.Empty;
        return user;
    }

    private static (string?, string?) ParsePlain(byte[] response)
    {
        // authzid NUL authcid NUL password
        var parts = Encoding.UTF8.GetString(response).Split('\0');
        return parts.Length == 3 ? (parts[1], parts[2]) : (null, null);
    }

    private static (string?, string?) ParseAmqPlain(byte[] response)
    {
        // A field table's entries without the table's length prefix.
        string? login = null, password = null;
        try
        {
            var r = new AmqpReader(response);
            while (r.Remaining > 0)
            {
                string key = r.ReadShortString();
                var value = FieldValues.AsString(r.ReadFieldValue());
                if (key == "LOGIN")
                {
                    login = value;
                }
                else if (key == "PASSWORD")
                {
                    password = value;
                }
            }
        }
        catch (AmqpException)
        {
            return (null, null);
        }

        return (login, password);
    }

    private static bool IsLoopback(EndPoint? remote) =>
        remote is IPEndPoint ip && (IPAddress.IsLoopback(ip.Address) ||
                                    (ip.Address.IsIPv4MappedToIPv6 && IPAddress.IsLoopback(ip.Address.MapToIPv4())));
}
