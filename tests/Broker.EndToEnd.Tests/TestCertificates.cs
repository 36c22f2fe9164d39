using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// Throwaway certificates made by the tests (nothing with a private key is committed): a CA, a
/// server certificate for localhost/127.0.0.1 it signed, client certificates it signed, and a
/// second, unrelated CA. Written as PEM files to a temporary folder for the node's settings.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    public TestCertificates()
    {
        Directory.CreateDirectory(Dir);
        Ca = CreateCa("Broker test CA");
        OtherCa = CreateCa("Unrelated test CA");
        Server = Issue(Ca, "CN=localhost", server: true);
        WritePem(Ca, "ca.pem", withKey: false);
        WritePem(OtherCa, "other-ca.pem", withKey: false);
        WritePem(Server, "server.pem", withKey: false);
        File.WriteAllText(ServerKeyFile, Server.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
    }

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "broker-tls-" + Guid.NewGuid().ToString("N"));

    public X509Certificate2 Ca { get; }

    public X509Certificate2 OtherCa { get; }

    public X509Certificate2 Server { get; }

    public string CaFile => Path.Combine(Dir, "ca.pem");

    public string OtherCaFile => Path.Combine(Dir, "other-ca.pem");

    public string ServerCertFile => Path.Combine(Dir, "server.pem");

    public string ServerKeyFile => Path.Combine(Dir, "server-key.pem");

    /// <summary>The node's settings for an amqps listener on a free port with these files.</summary>
    public Dictionary<string, string> NodeEnv(bool verifyPeer) => new()
    {
        ["BROKER_AMQPS_PORT"] = "0",
        ["BROKER_TLS_CERT"] = ServerCertFile,
        ["BROKER_TLS_KEY"] = ServerKeyFile,
        ["BROKER_TLS_CA"] = CaFile,
        ["BROKER_TLS_VERIFY_PEER"] = verifyPeer ? "on" : "off",
    };

    /// <summary>A client certificate (with its key) whose subject CN is <paramref name="commonName"/>, signed by the CA or by the other one.</summary>
    public X509Certificate2 Client(string commonName, bool byOtherCa = false) => Issue(byOtherCa ? OtherCa : Ca, "CN=" + commonName, server: false);

    /// <summary>A client certificate from the CA with any subject (say, one without a CN).</summary>
    public X509Certificate2 ClientWithSubject(string subject) => Issue(Ca, subject, server: false);

    /// <summary>Writes a client certificate and its key as PEM files (for pika); their paths.</summary>
    public (string Cert, string Key) WriteClient(X509Certificate2 client, string name)
    {
        WritePem(client, name + ".pem", withKey: false);
        string key = Path.Combine(Dir, name + "-key.pem");
        File.WriteAllText(key, client.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        return (Path.Combine(Dir, name + ".pem"), key);
    }

    /// <summary>Whether the server's certificate chains to our CA (what a client configured with ca.pem checks).</summary>
    public bool IssuedByCa(X509Certificate? certificate) =>
        certificate is not null && Broker.Actors.Transport.TlsListener.ChainsTo(certificate, new X509Certificate2Collection(Ca));

    private static X509Certificate2 CreateCa(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return Reload(ca);
    }

    private static X509Certificate2 Issue(X509Certificate2 ca, string subject, bool server)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
        }

        byte[] serial = RandomNumberGenerator.GetBytes(12);
        using var issued = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddMonths(6), serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        return Reload(withKey);
    }

    /// <summary>Through PKCS#12, so the private key is usable by SslStream on every platform.</summary>
    private static X509Certificate2 Reload(X509Certificate2 certificate) =>
        X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable);

    private void WritePem(X509Certificate2 certificate, string file, bool withKey)
    {
        string pem = certificate.ExportCertificatePem();
        if (withKey)
        {
            pem += "\n" + certificate.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem();
        }

        File.WriteAllText(Path.Combine(Dir, file), pem);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind does no harm.
        }
    }
}
