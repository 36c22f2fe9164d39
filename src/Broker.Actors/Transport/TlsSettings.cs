using System.Security.Cryptography.X509Certificates;

namespace Broker.Actors.Transport;

/// <summary>
/// The amqps listener: its port, the server's certificate (with its private key), the CAs a
/// client certificate must chain to (the system's trust store when null) and whether clients
/// must present a certificate (VerifyPeer: RabbitMQ's verify_peer with fail_if_no_peer_cert).
/// </summary>
public sealed record TlsSettings(int Port, X509Certificate2 Certificate, X509Certificate2Collection? CaCertificates, bool VerifyPeer);
