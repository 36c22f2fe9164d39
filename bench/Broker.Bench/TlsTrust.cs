using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using RabbitMQ.Client;

namespace Broker.Bench;

/// <summary>amqps:// with a test CA: TLS 1.2/1.3, and the broker's certificate must chain to that CA.</summary>
internal static class TlsTrust
{
    public static void Apply(ConnectionFactory factory, string? caFile)
    {
        if (!factory.Ssl.Enabled)
        {
            return;
        }

        factory.Ssl.Version = SslProtocols.Tls12 | SslProtocols.Tls13;
        if (caFile is null)
        {
            return;
        }

        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPemFile(caFile);
        factory.Ssl.CertificateValidationCallback = (_, certificate, _, _) =>
        {
            if (certificate is null)
            {
                return false;
            }

            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(new X509Certificate2(certificate));
        };
    }
}
