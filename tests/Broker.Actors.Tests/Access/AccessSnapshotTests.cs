using Broker.Actors.Access;
using Broker.Actors.Topology;

namespace Broker.Actors.Tests.Access;

/// <summary>The checks every operation makes, with RabbitMQ's pattern semantics.</summary>
public sealed class AccessSnapshotTests
{
    private static AccessSnapshot Snapshot(params Permission[] permissions)
    {
        var store = AccessStore.Initial("guest", "guest", ["/"])
            .AddUser(new User("app", PasswordHashing.Hash("pw"), PasswordHashing.Sha256, []));
        foreach (var p in permissions)
        {
            store = store.SetPermission(p);
        }

        return new AccessSnapshot(store);
    }

    [Fact]
    public void Patterns_match_anywhere_unless_anchored()
    {
        var s = Snapshot(new Permission("app", "/", "orders", "^orders$", "^ord"));
        Assert.True(s.Allows("app", "/", AccessKind.Configure, "new-orders-queue"));
        Assert.False(s.Allows("app", "/", AccessKind.Write, "orders2"));
        Assert.True(s.Allows("app", "/", AccessKind.Write, "orders"));
        Assert.True(s.Allows("app", "/", AccessKind.Read, "ord"));
        Assert.False(s.Allows("app", "/", AccessKind.Read, "xord"));
    }

    [Fact]
    public void An_empty_pattern_is_caret_dollar_so_no_resource_name_matches_it()
    {
        var s = Snapshot(new Permission("app", "/", "", ".*", ""));
        // Resource names are never empty (the default exchange is amq.default).
        Assert.False(s.Allows("app", "/", AccessKind.Configure, "amq.default"));
        Assert.False(s.Allows("app", "/", AccessKind.Configure, "q"));
        Assert.True(s.Allows("app", "/", AccessKind.Write, "q"));
    }

    [Fact]
    public void No_permissions_in_a_vhost_means_no_access_to_it()
    {
        var s = Snapshot();
        Assert.False(s.MayAccessVHost("app", "/"));
        Assert.False(s.Allows("app", "/", AccessKind.Read, "q"));
        Assert.True(s.MayAccessVHost("guest", "/"));
        Assert.False(s.MayAccessVHost("guest", "other"));
    }

    [Fact]
    public void Passwords_are_checked_against_the_stored_hash()
    {
        var s = Snapshot();
        Assert.Equal("app", s.Authenticate("app", "pw")?.Name);
        Assert.Null(s.Authenticate("app", "PW"));
        Assert.Null(s.Authenticate("nobody", "pw"));
    }

    [Fact]
    public void Without_topic_permissions_every_routing_key_is_allowed()
    {
        var s = Snapshot(new Permission("app", "/", ".*", ".*", ".*"));
        Assert.False(s.HasTopicPermissions("app", "/", "amq.topic"));
        Assert.True(s.AllowsTopic("app", "/", "amq.topic", AccessKind.Write, "anything"));
    }

    [Fact]
    public void Topic_patterns_expand_username_and_vhost()
    {
        var store = Snapshot(new Permission("app", "/", ".*", ".*", ".*")).Store
            .SetTopicPermission(new TopicPermission("app", "/", "amq.topic", "^{username}\\.", "^{vhost}\\."));
        var s = new AccessSnapshot(store);
        Assert.True(s.AllowsTopic("app", "/", "amq.topic", AccessKind.Write, "app.orders"));
        Assert.False(s.AllowsTopic("app", "/", "amq.topic", AccessKind.Write, "bob.orders"));
        Assert.True(s.AllowsTopic("app", "/", "amq.topic", AccessKind.Read, "/.x"));
        Assert.False(s.AllowsTopic("app", "/", "amq.topic", AccessKind.Read, "app.x"));
        // Other exchanges are not restricted by it.
        Assert.True(s.AllowsTopic("app", "/", "other", AccessKind.Write, "bob.orders"));
    }

    [Fact]
    public void An_empty_topic_pattern_allows_only_the_empty_routing_key()
    {
        var s = new AccessSnapshot(Snapshot(new Permission("app", "/", ".*", ".*", ".*")).Store
            .SetTopicPermission(new TopicPermission("app", "/", "t", "", "")));
        Assert.True(s.AllowsTopic("app", "/", "t", AccessKind.Write, ""));
        Assert.False(s.AllowsTopic("app", "/", "t", AccessKind.Write, "a"));
    }

    [Fact]
    public void The_table_takes_only_newer_stores()
    {
        var table = new AccessTable();
        Assert.False(table.Loaded);
        var first = Snapshot().Store;
        Assert.NotNull(table.Apply(first, new TopologyVersion(2, 0)));
        Assert.True(table.Loaded);
        Assert.Null(table.Apply(AccessStore.Empty, new TopologyVersion(1, 9)));
        Assert.Same(first, table.Current.Store);
        var previous = table.Apply(AccessStore.Empty, new TopologyVersion(2, 1));
        Assert.Same(first, previous!.Previous.Store);
        Assert.Same(table.Current, previous.Current);
    }
}
