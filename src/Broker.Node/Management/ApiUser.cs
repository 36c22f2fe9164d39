using Broker.Actors.Access;

namespace Broker.Node.Management;

/// <summary>
/// The user of an API request and what RabbitMQ's management tags let them see: management users
/// their own connections and the vhosts they have permissions in; monitoring users everything;
/// administrators everything, and they may change users, vhosts and permissions.
/// </summary>
public sealed class ApiUser(User user, string password, AccessSnapshot access)
{
    public string Name => user.Name;

    /// <summary>The clear-text password of this request (Basic auth), for its AMQP session with the node.</summary>
    public string Password { get; } = password;

    public string[] Tags => user.Tags;

    public bool IsAdministrator => user.IsAdministrator;

    public bool IsMonitoring => user.IsAdministrator || user.Has(User.Monitoring);

    public bool MayManagePolicies => user.MayManagePolicies;

    /// <summary>Whether any of RabbitMQ's management tags lets the user use the API at all.</summary>
    public bool IsManagementUser =>
        IsMonitoring || user.MayManagePolicies || user.Has(User.Management);

    public bool MaySee(string vhost) => IsMonitoring || access.MayAccessVHost(user.Name, vhost);

    public bool MaySeeConnectionOf(string owner) => IsMonitoring || owner == user.Name;

    public void RequireAdministrator()
    {
        if (!IsAdministrator)
        {
            throw ApiException.NotAuthorised("Not administrator user");
        }
    }

    public void RequireMonitoring()
    {
        if (!IsMonitoring)
        {
            throw ApiException.NotAuthorised("Not monitor user");
        }
    }

    /// <summary>
    /// The vhost must exist (404) and the user must see it (401): permissions there, or the
    /// monitoring tag. Changes run as the user over AMQP, so they still need its permissions.
    /// </summary>
    public void RequireVHost(AccessSnapshot snapshot, string vhost)
    {
        if (snapshot.FindVHost(vhost) is null)
        {
            throw ApiException.NotFound();
        }

        if (!MaySee(vhost))
        {
            throw ApiException.NotAuthorised("User not authorised to access virtual host");
        }
    }
}
