using System.Text.RegularExpressions;
using Broker.Actors.Topology;

namespace Broker.Actors.Access;

/// <summary>
/// This node's replica of the access store (kept by the replicated topology), with the permission
/// patterns compiled once per change. Connections authenticate and channels check permissions
/// against it without a round trip; readers take the current immutable snapshot.
/// </summary>
public sealed class AccessTable
{
    private readonly object _gate = new();
    private volatile AccessSnapshot _current = new(AccessStore.Empty);
    private TopologyVersion _version;

    public AccessSnapshot Current => _current;

    public TopologyVersion Version
    {
        get
        {
            lock (_gate)
            {
                return _version;
            }
        }
    }

    /// <summary>Whether the store was ever received (a node serves no client before).</summary>
    public bool Loaded => Version != TopologyVersion.None;

    /// <summary>Replaces the store if <paramref name="version"/> is newer; what it replaced and with what, or null.</summary>
    public AccessReplaced? Apply(AccessStore store, TopologyVersion version)
    {
        lock (_gate)
        {
            if (version <= _version)
            {
                return null;
            }

            var previous = _current;
            _version = version;
            _current = new AccessSnapshot(store);
            return new AccessReplaced(previous, _current);
        }
    }
}

/// <summary>One version of the store with its patterns compiled: what every check reads.</summary>
public sealed class AccessSnapshot
{
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);

    private readonly Dictionary<string, User> _users;
    private readonly Dictionary<string, VirtualHost> _vhosts;
    private readonly Dictionary<(string User, string VHost), Patterns> _permissions = new();
    private readonly Dictionary<(string User, string VHost, string Exchange), Patterns> _topics = new();

    public AccessSnapshot(AccessStore store)
    {
        Store = store;
        _users = store.Users.ToDictionary(u => u.Name, StringComparer.Ordinal);
        _vhosts = store.VHosts.ToDictionary(v => v.Name, StringComparer.Ordinal);
        foreach (var p in store.Permissions)
        {
            _permissions[(p.User, p.VHost)] = new Patterns(Compile(p.Configure), Compile(p.Write), Compile(p.Read));
        }

        foreach (var t in store.TopicPermissions)
        {
            // {username} and {vhost} are known per entry, so they are expanded once, here, as literal text.
            string Expand(string pattern) => pattern.Replace("{username}", Regex.Escape(t.User), StringComparison.Ordinal)
                .Replace("{vhost}", Regex.Escape(t.VHost), StringComparison.Ordinal);
            _topics[(t.User, t.VHost, t.Exchange)] = new Patterns(null, Compile(Expand(t.Write)), Compile(Expand(t.Read)));
        }
    }

    public AccessStore Store { get; }

    public User? FindUser(string name) => _users.GetValueOrDefault(name);

    public VirtualHost? FindVHost(string name) => _vhosts.GetValueOrDefault(name);

    /// <summary>The user if the password matches its stored hash; a blank password never does (as in RabbitMQ).</summary>
    public User? Authenticate(string name, string password) =>
        password.Length > 0 && _users.TryGetValue(name, out var user) && PasswordHashing.Verify(user.PasswordHash, user.HashingAlgorithm, password)
            ? user
            : null;

    /// <summary>A user may open a connection to a vhost when it has any permissions there.</summary>
    public bool MayAccessVHost(string user, string vhost) => _permissions.ContainsKey((user, vhost));

    /// <summary>Whether the user may do <paramref name="kind"/> on the named exchange or queue of the vhost.</summary>
    public bool Allows(string user, string vhost, AccessKind kind, string resource)
    {
        if (!_permissions.TryGetValue((user, vhost), out var p))
        {
            return false;
        }

        var pattern = kind switch
        {
            AccessKind.Configure => p.Configure,
            AccessKind.Write => p.Write,
            _ => p.Read,
        };
        return pattern is not null && Matches(pattern, resource);
    }

    /// <summary>Whether any topic permissions exist for the user on that exchange (if none, every key is allowed).</summary>
    public bool HasTopicPermissions(string user, string vhost, string exchange) =>
        _topics.Count > 0 && _topics.ContainsKey((user, vhost, exchange)); // most clusters have none: no hashing per publish

    /// <summary>Whether the user may publish (write) or bind (read) with this routing key on a topic exchange.</summary>
    public bool AllowsTopic(string user, string vhost, string exchange, AccessKind kind, string routingKey)
    {
        if (!_topics.TryGetValue((user, vhost, exchange), out var p))
        {
            return true;
        }

        return Matches(kind == AccessKind.Write ? p.Write : p.Read, routingKey);
    }

    /// <summary>
    /// An empty pattern is ^$ as in RabbitMQ: no resource name (never empty) and only the empty
    /// routing key. A pattern that does not compile (the store checks them, so only a bug) denies
    /// rather than failing the whole snapshot.
    /// </summary>
    private static Regex Compile(string pattern)
    {
        try
        {
            return new Regex(pattern.Length == 0 ? "^$" : pattern, RegexOptions.CultureInvariant, MatchTimeout);
        }
        catch (ArgumentException)
        {
            return new Regex("(?!)", RegexOptions.CultureInvariant);
        }
    }

    /// <summary>A pattern too slow to match (MatchTimeout) refuses: a permission must not hang a channel.</summary>
    private static bool Matches(Regex pattern, string name)
    {
        try
        {
            return pattern.IsMatch(name);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    private sealed record Patterns(Regex? Configure, Regex Write, Regex Read);
}
