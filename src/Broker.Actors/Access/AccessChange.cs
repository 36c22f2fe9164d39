using System.Text.Json.Serialization;

namespace Broker.Actors.Access;

/// <summary>
/// One change to the access store, sent to the AccessActor from whichever node the operator
/// talked to. Changes travel between nodes as JSON (AccessCodec), tagged by "op".
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "op")]
[JsonDerivedType(typeof(AddUser), "add_user")]
[JsonDerivedType(typeof(SetPassword), "set_password")]
[JsonDerivedType(typeof(SetUserTags), "set_user_tags")]
[JsonDerivedType(typeof(DeleteUser), "delete_user")]
[JsonDerivedType(typeof(AddVHost), "add_vhost")]
[JsonDerivedType(typeof(DeleteVHost), "delete_vhost")]
[JsonDerivedType(typeof(SetVHostLimits), "set_vhost_limits")]
[JsonDerivedType(typeof(SetPermissions), "set_permissions")]
[JsonDerivedType(typeof(ClearPermissions), "clear_permissions")]
[JsonDerivedType(typeof(SetTopicPermissions), "set_topic_permissions")]
[JsonDerivedType(typeof(ClearTopicPermissions), "clear_topic_permissions")]
public abstract record AccessChange
{
    public abstract AccessStore ApplyTo(AccessStore store);

    /// <summary>For the log: what changed, never a password or hash.</summary>
    public abstract string Describe();
}

public sealed record AddUser(User User) : AccessChange
{
    public override AccessStore ApplyTo(AccessStore store) => store.AddUser(User);

    public override string Describe() => $"user '{User.Name}' added with tags [{string.Join(", ", User.Tags)}]";
}

public sealed record SetPassword(string Name, string PasswordHash, string HashingAlgorithm) : AccessChange
{
    public override AccessStore ApplyTo(AccessStore store) =>
        store.ChangeUser(Name, u => u with { PasswordHash = PasswordHash, HashingAlgorithm = HashingAlgorithm });

    public override string Describe() => $"password of user '{Name}' changed";
}

public sealed record SetUserTags(string Name, string[] Tags) : AccessChange
{
    public override AccessStore ApplyTo(AccessStore store) => store.ChangeUser(Name, u => u with { Tags = Tags });

    public override string Describe() => $"tags of user '{Name}' set to [{string.Join(", ", Tags)}]";
}

public sealed record DeleteUser(string Name) : AccessChange
{
    public override AccessStore ApplyTo(AccessStore store) => store.DeleteUser(Name);

    public override string Describe() => $"user '{Name}' deleted";
}

public sealed record AddVHost(string Name, string Description) : AccessChange
{
    public override AccessStore ApplyTo(AccessStore store) => store.AddVHost(new VirtualHost(Name, Description));

    public override string Describe() => $"vhost '{Name}' added";
}

public sealed record DeleteVHost(string Name) : AccessChange
{
    public override AccessStore ApplyTo(AccessStore store) => store.DeleteVHost(Name);

    public override string Describe() => $"vhost '{Name}' deleted";
}

public sealed record SetVHostLimits(string Name, long? MaxConnections, long? MaxQueues) : AccessChange
{
    public override AccessStore ApplyTo(AccessStore store) => store.SetVHostLimits(Name, MaxConnections, MaxQueues);

    public override string Describe() => $"limits of vhost '{Name}' set: max-connections {MaxConnections}, max-queues {MaxQueues}";
}

public sealed record SetPermissions(Permission Permission) : AccessChange
{
    public override AccessStore ApplyTo(AccessStore store) => store.SetPermission(Permission);

    public override string Describe() =>
        $"permissions of user '{Permission.User}' in vhost '{Permission.VHost}' set: configure '{Permission.Configure}', write '{Permission.Write}', read '{Permission.Read}'";
}

public sealed record ClearPermissions(string User, string VHost) : AccessChange
{
    public override AccessStore ApplyTo(AccessStore store) => store.ClearPermission(User, VHost);

    public override string Describe() => $"permissions of user '{User}' in vhost '{VHost}' cleared";
}

public sealed record SetTopicPermissions(TopicPermission Permission) : AccessChange
{
    public override AccessStore ApplyTo(AccessStore store) => store.SetTopicPermission(Permission);

    public override string Describe() =>
        $"topic permissions of user '{Permission.User}' in vhost '{Permission.VHost}' on exchange '{Permission.Exchange}' set: write '{Permission.Write}', read '{Permission.Read}'";
}

public sealed record ClearTopicPermissions(string User, string VHost, string? Exchange) : AccessChange
{
    public override AccessStore ApplyTo(AccessStore store) => store.ClearTopicPermission(User, VHost, Exchange);

    public override string Describe() =>
        $"topic permissions of user '{User}' in vhost '{VHost}' cleared{(Exchange is null ? string.Empty : $" on exchange '{Exchange}'")}";
}
