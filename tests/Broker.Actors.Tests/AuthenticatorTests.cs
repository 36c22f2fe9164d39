using System.Net;
using Broker.Actors;
using Broker.Actors.Access;
using Broker.Actors.Connection;
using Broker.Protocol;

namespace Broker.Actors.Tests;

public sealed class AuthenticatorTests
{
    private static readonly Authenticator Auth = new(Table(), ["guest"]);

    private static AccessTable Table()
    {
        var store = AccessStore.Initial("guest", "guest", ["/"])
            .AddUser(new User("app", PasswordHashing.Hash("secret"), PasswordHashing.Sha256, []))
            .AddUser(new User("carol", PasswordHashing.Hash("pw"), PasswordHashing.Sha256, []));
        var table = new AccessTable();
        table.Apply(store, new Broker.Actors.Topology.TopologyVersion(1, 0));
        return table;
    }

    private static readonly IPEndPoint Loopback = new(IPAddress.Loopback, 40000);

    // A documentation address (RFC 5737): only the logic is exercised, nothing is sent anywhere.
    private static readonly IPEndPoint Remote = new(IPAddress.Parse("192.0.2.10"), 40000);

    private static byte[] Plain(string user, string pass) => System.Text.Encoding.UTF8.GetBytes($"\0{user}\0{pass}");

    [Fact]
    public void GuestFromLoopbackIsAccepted() =>
        Assert.Equal("guest", Auth.Authenticate("PLAIN", Plain("guest", "guest"), Loopback, null, out _)?.Name);

    [Fact]
    public void GuestFromIpv4MappedLoopbackIsAccepted() =>
        Assert.Equal("guest", Auth.Authenticate("PLAIN", Plain("guest", "guest"),
            new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 1), null, out _)?.Name);

    [Fact]
    public void GuestFromAnotherAddressIsRefusedAsInRabbitMq()
    {
        Assert.Null(Auth.Authenticate("PLAIN", Plain("guest", "guest"), Remote, null, out var why));
        Assert.Contains("only connect via localhost", why);
    }

    [Fact]
    public void OtherUsersMayConnectFromAnywhere() =>
        Assert.Equal("app", Auth.Authenticate("PLAIN", Plain("app", "secret"), Remote, null, out _)?.Name);

    [Fact]
    public void WrongPasswordIsRefused()
    {
        Assert.Null(Auth.Authenticate("PLAIN", Plain("app", "nope"), Loopback, null, out var why));
        Assert.Contains("invalid credentials", why);
    }

    [Fact]
    public void MalformedPlainResponseIsRefused() =>
        Assert.Null(Auth.Authenticate("PLAIN", "guest"u8.ToArray(), Loopback, null, out _)?.Name);

    [Fact]
    public void AmqPlainIsAccepted()
    {
        var w = new AmqpWriter();
        w.WriteShortString("LOGIN");
        w.WriteFieldValue("app");
        w.WriteShortString("PASSWORD");
        w.WriteFieldValue("secret");
        Assert.Equal("app", Auth.Authenticate("AMQPLAIN", w.ToArray(), Remote, null, out _)?.Name);
    }

    [Fact]
    public void UnknownMechanismIsCommandInvalid()
    {
        var e = Assert.Throws<AmqpException>(() => Auth.Authenticate("SCRAM-SHA-1", Array.Empty<byte>(), Loopback, null, out _));
        Assert.Equal(ReplyCode.CommandInvalid, e.ReplyCode);
    }

    [Fact]
    public void ExternalWithoutAVerifiedCertificateIsCommandInvalid()
    {
        var e = Assert.Throws<AmqpException>(() => Auth.Authenticate("EXTERNAL", Array.Empty<byte>(), Loopback, null, out _));
        Assert.Equal(ReplyCode.CommandInvalid, e.ReplyCode);
        Assert.DoesNotContain("EXTERNAL", Authenticator.MechanismsFor(null));
    }

    [Fact]
    public void ExternalLogsInTheUserNamedByTheCertificate()
    {
        Assert.Contains("EXTERNAL", Authenticator.MechanismsFor("carol"));
        Assert.Equal("carol", Auth.Authenticate("EXTERNAL", Array.Empty<byte>(), Remote, "carol", out _)?.Name);
        Assert.Null(Auth.Authenticate("EXTERNAL", Array.Empty<byte>(), Remote, "mallory", out var why));
        Assert.Contains("does not exist", why);
    }

    [Fact]
    public void AUserAddedToTheStoreCanLogInAtOnce()
    {
        var table = Table();
        var auth = new Authenticator(table, []);
        Assert.Null(auth.Authenticate("PLAIN", Plain("dave", "pw"), Remote, null, out _));
        table.Apply(table.Current.Store.AddUser(new User("dave", PasswordHashing.Hash("pw"), PasswordHashing.Sha256, [])),
            new Broker.Actors.Topology.TopologyVersion(2, 0));
        Assert.Equal("dave", auth.Authenticate("PLAIN", Plain("dave", "pw"), Remote, null, out _)?.Name);
    }
}
