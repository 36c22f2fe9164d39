using System.Collections.Immutable;
using System.Text.RegularExpressions;

namespace Broker.Actors.Access;

/// <summary>
/// Every user, virtual host, permission and topic permission of the cluster: one immutable value,
/// journaled whole by the AccessActor and replicated whole to every node's AccessTable (it is
/// small and changes rarely). Changes return a new store or throw AccessChangeRefused.
/// </summary>
public sealed record AccessStore(
    ImmutableList<User> Users,
    ImmutableList<VirtualHost> VHosts,
    ImmutableList<Permission> Permissions,
    ImmutableList<TopicPermission> TopicPermissions)
{
    public static readonly AccessStore Empty = new(ImmutableList<User>.Empty, ImmutableList<VirtualHost>.Empty,
        ImmutableList<Permission>.Empty, ImmutableList<TopicPermission>.Empty);

    /// <summary>
    /// What a cluster starts with the first time: the default user (an administrator, as in
    /// RabbitMQ) with every permission on each configured vhost.
    /// </summary>
    public static AccessStore Initial(string user, string password, IEnumerable<string> vhosts)
    {
        var store = Empty.AddUser(new User(user, PasswordHashing.Hash(password), PasswordHashing.Sha256, new[] { User.Administrator }));
        foreach (var vhost in vhosts)
        {
            store = store.AddVHost(new VirtualHost(vhost, "Default virtual host"))
                .SetPermission(new Permission(user, vhost, ".*", ".*", ".*"));
        }

        return store;
    }

    public User? FindUser(string name) => Users.Find(u => u.Name == name);

    public VirtualHost? FindVHost(string name) => VHosts.Find(v => v.Name == name);

    public AccessStore AddUser(User user)
    {
        Validate(user);
        if (FindUser(user.Name) is not null)
        {
            throw new AccessChangeRefused($"user '{user.Name}' already exists");
        }

        return this with { Users = Users.Add(user) };
    }

    public AccessStore ChangeUser(string name, Func<User, User> change)
    {
        var old = FindUser(name) ?? throw NoUser(name);
        var changed = change(old);
        Validate(changed);
        return this with { Users = Users.Replace(old, changed) };
    }

    /// <summary>Removes the user and every permission it had.</summary>
    public AccessStore DeleteUser(string name)
    {
        var old = FindUser(name) ?? throw NoUser(name);
        return this with
        {
            Users = Users.Remove(old),
            Permissions = Permissions.RemoveAll(p => p.User == name),
            TopicPermissions = TopicPermissions.RemoveAll(p => p.User == name),
        };
    }

    public AccessStore AddVHost(VirtualHost vhost)
    {
        if (vhost.Name.Length == 0 || vhost.Name.Length > 255)
        {
            throw new AccessChangeRefused("a vhost name must be 1 to 255 characters long");
        }

        if (FindVHost(vhost.Name) is not null)
        {
            throw new AccessChangeRefused($"vhost '{vhost.Name}' already exists");
        }

        return this with { VHosts = VHosts.Add(vhost) };
    }

    /// <summary>Removes the vhost and every permission in it (its queues and exchanges are deleted by whoever asked).</summary>
    public AccessStore DeleteVHost(string name)
    {
        var old = FindVHost(name) ?? throw NoVHost(name);
        return this with
        {
            VHosts = VHosts.Remove(old),
            Permissions = Permissions.RemoveAll(p => p.VHost == name),
            TopicPermissions = TopicPermissions.RemoveAll(p => p.VHost == name),
        };
    }

    /// <summary>Replaces the vhost's limits, as rabbitmqctl set_vhost_limits does: one not given (null) or negative is no limit.</summary>
    public AccessStore SetVHostLimits(string name, long? maxConnections, long? maxQueues)
    {
        var old = FindVHost(name) ?? throw NoVHost(name);
        var changed = old with
        {
            MaxConnections = maxConnections is >= 0 and { } c ? c : -1,
            MaxQueues = maxQueues is >= 0 and { } q ? q : -1,
        };
        return this with { VHosts = VHosts.Replace(old, changed) };
    }

    public AccessStore SetPermission(Permission permission)
    {
        RequireUserAndVHost(permission.User, permission.VHost);
        ValidatePatterns(permission.Configure, permission.Write, permission.Read);
        var rest = Permissions.RemoveAll(p => p.User == permission.User && p.VHost == permission.VHost);
        return this with { Permissions = rest.Add(permission) };
    }

    public AccessStore ClearPermission(string user, string vhost)
    {
        RequireUserAndVHost(user, vhost);
        return this with { Permissions = Permissions.RemoveAll(p => p.User == user && p.VHost == vhost) };
    }

    public AccessStore SetTopicPermission(TopicPermission permission)
    {
        RequireUserAndVHost(permission.User, permission.VHost);
        ValidatePatterns(permission.Write, permission.Read);
        var rest = TopicPermissions.RemoveAll(p => p.User == permission.User && p.VHost == permission.VHost && p.Exchange == permission.Exchange);
        return this with { TopicPermissions = rest.Add(permission) };
    }

    /// <summary>Clears the user's topic permissions in the vhost, on one exchange or (null) on all.</summary>
    public AccessStore ClearTopicPermission(string user, string vhost, string? exchange)
    {
        RequireUserAndVHost(user, vhost);
        return this with
        {
            TopicPermissions = TopicPermissions.RemoveAll(p => p.User == user && p.VHost == vhost && (exchange is null || p.Exchange == exchange)),
        };
    }

    private static void Validate(User user)
    {
        if (user.Name.Length == 0 || user.Name.Length > 255)
        {
            throw new AccessChangeRefused("a user name must be 1 to 255 characters long");
        }

        if (!PasswordHashing.IsKnown(user.HashingAlgorithm))
        {
            throw new AccessChangeRefused($"unknown hashing algorithm '{user.HashingAlgorithm}'");
        }
    }

    private void RequireUserAndVHost(string user, string vhost)
    {
        if (FindUser(user) is null)
        {
            throw NoUser(user);
        }

        if (FindVHost(vhost) is null)
        {
            throw NoVHost(vhost);
        }
    }

    private static void ValidatePatterns(params string[] patterns)
    {
        foreach (var pattern in patterns)
        {
            try
            {
                _ = new Regex(pattern, RegexOptions.CultureInvariant);
            }
            catch (ArgumentException e)
            {
                throw new AccessChangeRefused($"invalid regular expression '{pattern}': {e.Message}");
            }
        }
    }

    private static AccessChangeRefused NoUser(string name) => new($"no user '{name}'");

    private static AccessChangeRefused NoVHost(string name) => new($"no vhost '{name}'");
}

/// <summary>A change the store refuses (unknown user, existing vhost, bad pattern...), with the reason for the operator.</summary>
public sealed class AccessChangeRefused(string reason) : Exception(reason);
