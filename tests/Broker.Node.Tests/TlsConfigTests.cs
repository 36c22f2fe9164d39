using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Broker.Node.Tests;

/// <summary>broker.tls: files are read and checked at start, and a bad one stops the node naming the setting.</summary>
public sealed class TlsConfigTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("broker-tls-config-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private (string Cert, string Key) SelfSigned(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        string certFile = Path.Combine(_temp, name + ".pem"), keyFile = Path.Combine(_temp, name + "-key.pem");
        File.WriteAllText(certFile, cert.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return (certFile, keyFile);
    }

    private Broker.Actors.BrokerSettings Load(params (string Name, string Value)[] vars)
    {
        var env = new Dictionary<string, string> { ["BROKER_DATA_DIR"] = Path.Combine(_temp, "data") };
        foreach (var (name, value) in vars)
        {
            env[name] = value;
        }

        return BrokerConfig.Load(env, RepoPaths.HoconDir).Settings;
    }

    [Fact]
    public void Without_a_certificate_there_is_no_amqps_listener() => Assert.Null(Load().Tls);

    [Fact]
    public void A_certificate_with_its_key_and_a_ca_make_the_amqps_listener()
    {
        var (cert, key) = SelfSigned("server");
        var (ca, _) = SelfSigned("ca");
        var tls = Load(("BROKER_TLS_CERT", cert), ("BROKER_TLS_KEY", key), ("BROKER_TLS_CA", ca), ("BROKER_TLS_VERIFY_PEER", "on")).Tls;
        Assert.NotNull(tls);
        Assert.Equal(5671, tls.Port);
        Assert.True(tls.Certificate.HasPrivateKey);
        Assert.True(tls.VerifyPeer);
        Assert.Single(tls.CaCertificates!);
        Assert.Equal(15671, Load(("BROKER_TLS_CERT", cert), ("BROKER_TLS_KEY", key), ("BROKER_AMQPS_PORT", "15671")).Tls!.Port);
    }

    [Fact]
    public void Bad_files_and_values_name_their_setting()
    {
        var (cert, key) = SelfSigned("server");
        var (_, otherKey) = SelfSigned("other");
        Assert.Contains("BROKER_TLS_CERT", Assert.Throws<ConfigurationException>(() => Load(("BROKER_TLS_CERT", Path.Combine(_temp, "missing.pem")))).Message);
        Assert.Contains("BROKER_TLS_CERT", Assert.Throws<ConfigurationException>(() => Load(("BROKER_TLS_CERT", cert), ("BROKER_TLS_KEY", otherKey))).Message);
        Assert.Contains("BROKER_TLS_CERT", Assert.Throws<ConfigurationException>(() => Load(("BROKER_TLS_KEY", key))).Message);
        Assert.Contains("BROKER_TLS_CA", Assert.Throws<ConfigurationException>(() =>
            Load(("BROKER_TLS_CERT", cert), ("BROKER_TLS_KEY", key), ("BROKER_TLS_CA", key))).Message);
        Assert.Contains("BROKER_TLS_VERIFY_PEER", Assert.Throws<ConfigurationException>(() =>
            Load(("BROKER_TLS_CERT", cert), ("BROKER_TLS_KEY", key), ("BROKER_TLS_VERIFY_PEER", "maybe"))).Message);
        Assert.Contains("BROKER_AMQPS_PORT", Assert.Throws<ConfigurationException>(() =>
            Load(("BROKER_TLS_CERT", cert), ("BROKER_TLS_KEY", key), ("BROKER_AMQPS_PORT", "70000"))).Message);
    }
}
