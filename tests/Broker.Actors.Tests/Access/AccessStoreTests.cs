using Broker.Actors.Access;

namespace Broker.Actors.Tests.Access;

/// <summary>The access store's changes: what each one does, what it refuses, and what goes with a deleted user or vhost.</summary>
public sealed class AccessStoreTests
{
    private static User U(string name, params string[] tags) => new(name, PasswordHashing.Hash("pw"), PasswordHashing.Sha256, tags);

    private static readonly AccessStore Start = AccessStore.Initial("guest", "guest", ["/", "team"]);

    [Fact]
    public void A_new_cluster_starts_with_the_default_user_as_administrator_on_every_configured_vhost()
    {
        var guest = Assert.Single(Start.Users);
        Assert.True(guest.IsAdministrator);
        Assert.True(PasswordHashing.Verify(guest.PasswordHash, guest.HashingAlgorithm, "guest"));
        Assert.Equal(["/", "team"], Start.VHosts.Select(v => v.Name));
        Assert.All(Start.Permissions, p => Assert.Equal((".*", ".*", ".*"), (p.Configure, p.Write, p.Read)));
        Assert.Equal(2, Start.Permissions.Count);
    }

    [Fact]
    public void Adding_an_existing_user_or_vhost_is_refused()
    {
        Assert.Contains("already exists", Assert.Throws<AccessChangeRefused>(() => Start.AddUser(U("guest"))).Message);
        Assert.Contains("already exists", Assert.Throws<AccessChangeRefused>(() => Start.AddVHost(new VirtualHost("team", ""))).Message);
    }

    [Fact]
    public void Permissions_need_an_existing_user_and_vhost_and_valid_patterns()
    {
        Assert.Equal("no user 'nobody'", Assert.Throws<AccessChangeRefused>(() =>
            Start.SetPermission(new Permission("nobody", "/", ".*", ".*", ".*"))).Message);
        Assert.Equal("no vhost 'none'", Assert.Throws<AccessChangeRefused>(() =>
            Start.SetPermission(new Permission("guest", "none", ".*", ".*", ".*"))).Message);
        Assert.Contains("invalid regular expression", Assert.Throws<AccessChangeRefused>(() =>
            Start.SetPermission(new Permission("guest", "/", "(", ".*", ".*"))).Message);
    }

    [Fact]
    public void Setting_permissions_again_replaces_them()
    {
        var store = Start.SetPermission(new Permission("guest", "/", "^a", "^b", "^c"));
        var p = Assert.Single(store.Permissions, p => p.VHost == "/");
        Assert.Equal(("^a", "^b", "^c"), (p.Configure, p.Write, p.Read));
    }

    [Fact]
    public void Deleting_a_user_removes_its_permissions_and_topic_permissions()
    {
        var store = Start.AddUser(U("app"))
            .SetPermission(new Permission("app", "team", ".*", ".*", ".*"))
            .SetTopicPermission(new TopicPermission("app", "team", "amq.topic", "^a", "^a"))
            .DeleteUser("app");
        Assert.DoesNotContain(store.Permissions, p => p.User == "app");
        Assert.Empty(store.TopicPermissions);
        Assert.Throws<AccessChangeRefused>(() => store.DeleteUser("app"));
    }

    [Fact]
    public void Deleting_a_vhost_removes_the_permissions_in_it()
    {
        var store = Start.SetTopicPermission(new TopicPermission("guest", "team", "amq.topic", "^a", "^a")).DeleteVHost("team");
        Assert.Equal(["/"], store.VHosts.Select(v => v.Name));
        Assert.All(store.Permissions, p => Assert.Equal("/", p.VHost));
        Assert.Empty(store.TopicPermissions);
    }

    [Fact]
    public void Vhost_limits_are_replaced_as_a_whole_as_rabbitmqctl_set_vhost_limits_does()
    {
        var store = Start.SetVHostLimits("team", 10, 3);
        Assert.Equal((10L, 3L), (store.FindVHost("team")!.MaxConnections, store.FindVHost("team")!.MaxQueues));
        store = store.SetVHostLimits("team", null, -1);
        Assert.Equal((-1L, -1L), (store.FindVHost("team")!.MaxConnections, store.FindVHost("team")!.MaxQueues));
    }

    [Fact]
    public void Topic_permissions_are_cleared_per_exchange_or_all_at_once()
    {
        var store = Start.SetTopicPermission(new TopicPermission("guest", "/", "x1", "a", "a"))
            .SetTopicPermission(new TopicPermission("guest", "/", "x2", "a", "a"));
        Assert.Single(store.ClearTopicPermission("guest", "/", "x1").TopicPermissions);
        Assert.Empty(store.ClearTopicPermission("guest", "/", null).TopicPermissions);
    }

    [Fact]
    public void Changes_survive_the_codec_as_they_cross_nodes()
    {
        AccessChange[] changes =
        [
            new AddUser(U("app", "administrator")), new SetPassword("app", "aGFzaA==", PasswordHashing.Sha512),
            new SetUserTags("app", ["a", "b"]), new DeleteUser("app"), new AddVHost("v", "d"), new DeleteVHost("v"),
            new SetVHostLimits("v", 3, null), new SetPermissions(new Permission("u", "v", "c", "w", "r")), new ClearPermissions("u", "v"),
            new SetTopicPermissions(new TopicPermission("u", "v", "x", "w", "r")), new ClearTopicPermissions("u", "v", null),
        ];
        foreach (var change in changes)
        {
            var back = AccessCodec.DecodeChange(AccessCodec.Encode(change));
            Assert.Equal(change.GetType(), back.GetType());
            Assert.Equal(change.Describe(), back.Describe());
        }
    }

    [Fact]
    public void The_store_survives_the_codec_with_rabbitmq_definition_field_names()
    {
        var store = Start.AddUser(U("app", "monitoring")).SetVHostLimits("team", 5, 2)
            .SetTopicPermission(new TopicPermission("app", "team", "amq.topic", "^{username}\\.", ".*"));
        string json = System.Text.Encoding.UTF8.GetString(AccessCodec.Encode(store));
        Assert.Contains("\"password_hash\"", json);
        Assert.Contains("\"hashing_algorithm\":\"rabbit_password_hashing_sha256\"", json);
        Assert.Contains("\"topic_permissions\"", json);
        var back = AccessCodec.DecodeStore(AccessCodec.Encode(store));
        Assert.Equal(store.Users.Select(u => (u.Name, u.PasswordHash, u.HashingAlgorithm, string.Join(",", u.Tags))),
            back.Users.Select(u => (u.Name, u.PasswordHash, u.HashingAlgorithm, string.Join(",", u.Tags))));
        Assert.DoesNotContain("is_administrator", json);
        Assert.Equal(store.VHosts, back.VHosts);
        Assert.Equal(store.Permissions, back.Permissions);
        Assert.Equal(store.TopicPermissions, back.TopicPermissions);
    }
}
