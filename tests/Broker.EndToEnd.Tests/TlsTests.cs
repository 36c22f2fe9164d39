using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using RabbitMQ.Client;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// The amqps listener with certificates the test makes: RabbitMQ.Client and pika over TLS 1.2/1.3,
/// a client that does not trust the server's CA gives up, and with client certificates required a
/// client without one or with one from another CA is refused while a good one logs in with
/// EXTERNAL as its CN.
/// </summary>
public sealed class TlsTests : IAsyncLifetime
{
    private readonly TestCertificates _certs = new();
    private BrokerFixture _open = null!;
    private BrokerFixture _verifying = null!;

    public async Task InitializeAsync()
    {
        _open = await BrokerFixture.StartAsync(_certs.NodeEnv(verifyPeer: false));
        _verifying = await BrokerFixture.StartAsync(_certs.NodeEnv(verifyPeer: true));
    }

    public async Task DisposeAsync()
    {
        await _open.DisposeAsync();
        await _verifying.DisposeAsync();
        _certs.Dispose();
    }

    private ConnectionFactory Tls(BrokerFixture node, X509Certificate2? clientCertificate = null, bool trustOurCa = true)
    {
        var f = node.Factory();
        f.Port = node.Server.TlsEndpoint!.Port;
        f.Ssl = new SslOption
        {
            Enabled = true,
            ServerName = "localhost",
            Version = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateValidationCallback = (_, certificate, _, errors) =>
                trustOurCa ? _certs.IssuedByCa(certificate) : errors == SslPolicyErrors.None,
        };
        if (clientCertificate is not null)
        {
            f.Ssl.Certs = new X509CertificateCollection { clientCertificate };
        }

        return f;
    }

    [Fact]
    public async Task RabbitMqClient_publishes_and_consumes_over_tls()
    {
        await using var conn = await Tls(_open).CreateConnectionAsync();
        await using var ch = await conn.CreateChannelAsync(new CreateChannelOptions(true, true));
        var q = (await ch.QueueDeclareAsync("", exclusive: true)).QueueName;
        await ch.BasicPublishAsync("", q, true, new BasicProperties(), Body("over tls"));
        var got = await ch.BasicGetAsync(q, autoAck: true);
        Assert.Equal("over tls", Text(got!.Body));
        // The plain listener keeps working next to it.
        await using var plain = await _open.ConnectAsync();
        Assert.True(plain.IsOpen);
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task The_listener_speaks_tls_1_2_and_1_3_with_the_configured_certificate_then_amqp(SslProtocols protocol)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync("127.0.0.1", _open.Server.TlsEndpoint!.Port);
        X509Certificate? presented = null;
        await using var ssl = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) =>
        {
            presented = certificate;
            return _certs.IssuedByCa(certificate);
        });
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", EnabledSslProtocols = protocol })
            .WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(protocol, ssl.SslProtocol);
        Assert.Equal(_certs.Server.Thumbprint, new X509Certificate2(presented!).Thumbprint);

        // Behind the handshake is the AMQP listener: a protocol header gets connection.start.
        await ssl.WriteAsync("AMQP\0\0\x09\x01"u8.ToArray());
        var frame = new byte[7];
        await ssl.ReadExactlyAsync(frame).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, frame[0]); // a method frame on channel 0
    }

    [Fact]
    public async Task A_client_that_does_not_trust_the_servers_ca_gives_up()
    {
        // The system's trust store does not know the test CA: the server's certificate is only good with ca.pem.
        await Assert.ThrowsAnyAsync<Exception>(() => Tls(_open, trustOurCa: false).CreateConnectionAsync());
    }

    [Fact]
    public async Task With_client_certificates_required_only_one_from_the_ca_gets_in_and_logs_in_as_its_cn()
    {
        string user = UniqueName("cert-user");
        await NodeCli.OkAsync(_verifying.Uri, "users", "add", user, "unused-password");
        await NodeCli.OkAsync(_verifying.Uri, "permissions", "set", user, ".*", ".*", ".*");

        await Assert.ThrowsAnyAsync<Exception>(() => Tls(_verifying).CreateConnectionAsync());
        await Assert.ThrowsAnyAsync<Exception>(() => Tls(_verifying, _certs.Client(user, byOtherCa: true)).CreateConnectionAsync());

        var external = Tls(_verifying, _certs.Client(user));
        external.AuthMechanisms = [new ExternalMechanismFactory()];
        await using (var conn = await external.CreateConnectionAsync())
        {
            await using var ch = await conn.CreateChannelAsync();
            await ch.QueueDeclareAsync("", exclusive: true);
        }

        // A certificate whose CN is no user gets in over TLS, but EXTERNAL refuses it.
        var stranger = Tls(_verifying, _certs.Client(UniqueName("nobody")));
        stranger.AuthMechanisms = [new ExternalMechanismFactory()];
        await Assert.ThrowsAnyAsync<Exception>(() => stranger.CreateConnectionAsync());

        // Only the CN names the user: a certificate without one does not log in as its OU.
        var noCn = Tls(_verifying, _certs.ClientWithSubject($"OU={user}, O=Test"));
        noCn.AuthMechanisms = [new ExternalMechanismFactory()];
        await Assert.ThrowsAnyAsync<Exception>(() => noCn.CreateConnectionAsync());

        // PLAIN still works over a verified TLS connection.
        await using var plain = await Tls(_verifying, _certs.Client(user)).CreateConnectionAsync();
        Assert.True(plain.IsOpen);
    }

    [Fact]
    public async Task Pika_over_tls_with_plain_and_with_a_client_certificate()
    {
        var root = InteropTests.FindRepoRoot();
        await InteropTests.RequirePythonModulesAsync(root, "pika");
        string script = Path.Combine(root, "tests", "interop", "pika-tls.py");
        var (code, output) = await InteropTests.RunAsync(InteropTests.DebianPython,
            [script, _open.Server.TlsEndpoint!.Port.ToString(), _certs.CaFile, "guest", "guest"], root, TimeSpan.FromSeconds(60));
        Assert.True(code == 0, $"pika over TLS exited {code}:\n{output}");
        Assert.Contains("OK PlainCredentials TLSv1.3", output);

        string user = UniqueName("pika-cert");
        await NodeCli.OkAsync(_verifying.Uri, "users", "add", user, "pw");
        await NodeCli.OkAsync(_verifying.Uri, "permissions", "set", user, ".*", ".*", ".*");
        var (cert, key) = _certs.WriteClient(_certs.Client(user), user);
        (code, output) = await InteropTests.RunAsync(InteropTests.DebianPython,
            [script, _verifying.Server.TlsEndpoint!.Port.ToString(), _certs.CaFile, "--external", cert, key], root, TimeSpan.FromSeconds(60));
        Assert.True(code == 0, $"pika with a client certificate exited {code}:\n{output}");
        Assert.Contains("OK ExternalCredentials", output);
    }
}
