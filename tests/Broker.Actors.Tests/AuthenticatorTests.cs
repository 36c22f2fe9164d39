using System.Net;
using Broker.Actors;
using Broker.Actors.Connection;
using Broker.Protocol;

namespace Broker.Actors.Tests;

public sealed class AuthenticatorTests
{
    private static readonly Authenticator Auth = new(new[]
    {
        new UserCredential("guest", "guest", LoopbackOnly: true),
        new UserCredential("app", "secret", LoopbackOnly: false),
    });

    private static readonly IPEndPoint Loopback = new(IPAddress.Loopback, 40000);

    // A documentation address (RFC 5737): only the logic is exercised, nothing is sent anywhere.
    private static readonly IPEndPoint Remote = new(IPAddress.Parse("192.0.2.10"), 40000);

    private static byte[] Plain(string user, string pass) => System.Text.Encoding.UTF8.GetBytes($"\0{user}\0{pass}");

    [Fact]
    public void GuestFromLoopbackIsAccepted() =>
        Assert.Equal("guest", Auth.Authenticate("PLAIN", Plain("guest", "guest"), Loopback, out _));

    [Fact]
    public void GuestFromIpv4MappedLoopbackIsAccepted() =>
        Assert.Equal("guest", Auth.Authenticate("PLAIN", Plain("guest", "guest"),
            new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 1), out _));

    [Fact]
    public void GuestFromAnotherAddressIsRefusedAsInRabbitMq()
    {
        Assert.Null(Auth.Authenticate("PLAIN", Plain("guest", "guest"), Remote, out var why));
        Assert.Contains("only connect via localhost", why);
    }

    [Fact]
    public void OtherUsersMayConnectFromAnywhere() =>
        Assert.Equal("app", Auth.Authenticate("PLAIN", Plain("app", "secret"), Remote, out _));

    [Fact]
    public void WrongPasswordIsRefused()
    {
        Assert.Null(Auth.Authenticate("PLAIN", Plain("app", "nope"), Loopback, out var why));
        Assert.Contains("invalid credentials", why);
    }

    [Fact]
    public void MalformedPlainResponseIsRefused() =>
        Assert.Null(Auth.Authenticate("PLAIN", "guest"u8.ToArray(), Loopback, out _));

    [Fact]
    public void AmqPlainIsAccepted()
    {
        var w = new AmqpWriter();
        w.WriteShortString("LOGIN");
        w.WriteFieldValue("app");
        w.WriteShortString("PASSWORD");
        w.WriteFieldValue("secret");
        Assert.Equal("app", Auth.Authenticate("AMQPLAIN", w.ToArray(), Remote, out _));
    }

    [Fact]
    public void UnknownMechanismIsCommandInvalid()
    {
        var e = Assert.Throws<AmqpException>(() => Auth.Authenticate("EXTERNAL", Array.Empty<byte>(), Loopback, out _));
        Assert.Equal(ReplyCode.CommandInvalid, e.ReplyCode);
    }
}
