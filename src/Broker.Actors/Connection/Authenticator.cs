using System.Net;
using System.Text;
using Broker.Actors.Access;
using Broker.Protocol;

namespace Broker.Actors.Connection;

/// <summary>
/// SASL PLAIN and AMQPLAIN against the access store's users (salted password hashes), and
/// EXTERNAL for a TLS client whose certificate was verified (its subject's CN is the user name,
/// as RabbitMQ's rabbitmq_auth_mechanism_ssl does). A loopback-only user (guest by default) is
/// refused from any other address, as RabbitMQ's loopback_users does.
/// </summary>
public sealed class Authenticator
{
    private readonly AccessTable _access;
    private readonly IReadOnlyList<string> _loopbackUsers;

    public Authenticator(AccessTable access, IReadOnlyList<string> loopbackUsers)
    {
        _access = access;
        _loopbackUsers = loopbackUsers;
    }

    /// <summary>The mechanisms offered in connection.start: EXTERNAL only to a client that presented a verified certificate.</summary>
    public static string MechanismsFor(string? certificateUser) => certificateUser is null ? "PLAIN AMQPLAIN" : "PLAIN AMQPLAIN EXTERNAL";

    /// <summary>The user name a login attempt names (null if it names none), for LoginThrottle.</summary>
    public static string? UserNameOf(string mechanism, byte[] response, string? certificateUser) => mechanism switch
    {
        "PLAIN" => ParsePlain(response).Item1,
        "AMQPLAIN" => ParseAmqPlain(response).Item1,
        "EXTERNAL" => certificateUser,
        _ => null,
    };

    /// <summary>The authenticated user, or null with the reason (for the log) in <paramref name="failure"/>.</summary>
    public User? Authenticate(string mechanism, byte[] response, EndPoint? remote, string? certificateUser, out string failure)
    {
        switch (mechanism)
        {
            case "PLAIN":
            case "AMQPLAIN":
                var (name, password) = mechanism == "PLAIN" ? ParsePlain(response) : ParseAmqPlain(response);
                if (name is null || password is null)
                {
                    failure = $"user '{name}' - invalid credentials";
                    return null;
                }

                return Authenticate(name, password, remote, out failure);
            case "EXTERNAL" when certificateUser is not null:
                var user = _access.Current.FindUser(certificateUser);
                if (user is null)
                {
                    failure = $"user '{certificateUser}' (the client certificate's CN) does not exist";
                    return null;
                }

                return FromAllowedAddress(user, remote, out failure);
            default:
                throw AmqpException.CommandInvalid($"unknown authentication mechanism '{mechanism}'");
        }
    }

    /// <summary>A user name and password (AMQP PLAIN/AMQPLAIN, the HTTP API's Basic auth) from this address, or null with the reason.</summary>
    public User? Authenticate(string name, string password, EndPoint? remote, out string failure)
    {
        var snapshot = _access.Current;
        var user = snapshot.Authenticate(name, password);
        if (user is null)
        {
            failure = snapshot.FindUser(name) is null
                ? $"user '{name}' - invalid credentials (no such user)"
                : $"user '{name}' - invalid credentials";
            return null;
        }

        return FromAllowedAddress(user, remote, out failure);
    }

    /// <summary>A loopback-only user (guest) from anywhere else is refused.</summary>
    private User? FromAllowedAddress(User user, EndPoint? remote, out string failure)
    {
        if (_loopbackUsers.Contains(user.Name) && !IsLoopback(remote))
        {
            failure = $"user '{user.Name}' can only connect via localhost";
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
