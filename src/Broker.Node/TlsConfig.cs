using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using Broker.Actors.Transport;

namespace Broker.Node;

/// <summary>
/// broker.tls: the amqps listener exists when a certificate is given (PEM files, as RabbitMQ's
/// ssl_options take them). Files are read and checked at start: a missing file, a key that does
/// not match the certificate or an unreadable CA bundle stops the node naming the setting.
/// </summary>
public static class TlsConfig
{
    public static TlsSettings? From(Config c)
    {
        string cert = c.GetString("broker.tls.cert") ?? string.Empty;
        string key = c.GetString("broker.tls.key") ?? string.Empty;
        string ca = c.GetString("broker.tls.ca") ?? string.Empty;
        if (cert.Length == 0)
        {
            if (key.Length > 0)
            {
                throw new ConfigurationException("broker.tls.cert", "BROKER_TLS_CERT", "is needed with BROKER_TLS_KEY");
            }

            return null;
        }

        string portText = c.GetString("broker.tls.port") ?? "5671";
        if (!int.TryParse(portText, out int port) || port is < 0 or > 65535)
        {
            throw new ConfigurationException("broker.tls.port", "BROKER_AMQPS_PORT", $"'{portText}' is not a port number");
        }

        X509Certificate2 certificate;
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(cert, key.Length > 0 ? key : null);
            // Re-imported so the private key is usable by SslStream on every platform.
            certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ConfigurationException("broker.tls.cert", "BROKER_TLS_CERT",
                $"cannot load certificate '{cert}' with key '{(key.Length > 0 ? key : cert)}': {e.Message}");
        }

        if (!certificate.HasPrivateKey)
        {
            throw new ConfigurationException("broker.tls.key", "BROKER_TLS_KEY", $"no private key for certificate '{cert}'");
        }

        X509Certificate2Collection? authorities = null;
        if (ca.Length > 0)
        {
            authorities = new X509Certificate2Collection();
            try
            {
                authorities.ImportFromPemFile(ca);
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
            {
                throw new ConfigurationException("broker.tls.ca", "BROKER_TLS_CA", $"cannot read CA certificates from '{ca}': {e.Message}");
            }

            if (authorities.Count == 0)
            {
                throw new ConfigurationException("broker.tls.ca", "BROKER_TLS_CA", $"'{ca}' holds no certificate");
            }
        }

        string verify = (c.GetString("broker.tls.verify-peer") ?? "off").ToLowerInvariant();
        bool verifyPeer = verify switch
        {
            "on" or "true" or "yes" => true,
            "off" or "false" or "no" => false,
            _ => throw new ConfigurationException("broker.tls.verify-peer", "BROKER_TLS_VERIFY_PEER", $"'{verify}' is not on or off"),
        };
        return new TlsSettings(port, certificate, authorities, verifyPeer);
    }
}
