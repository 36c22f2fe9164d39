using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;

namespace Broker.Actors.Transport;

/// <summary>
/// The amqps listener: a <see cref="SocketListener"/> whose sockets are wrapped in an SslStream
/// (TLS 1.2 and 1.3 only); once the handshake is done the stream is handed to the same connection
/// pipeline as a plain socket (ConnectionStream). A client that does not finish its TLS handshake
/// within the timeout is dropped, as is one whose certificate is refused.
/// </summary>
public sealed class TlsListener : IDisposable
{
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    private readonly TlsSettings _tls;
    private readonly ILoggingAdapter _log;
    private readonly Action<SslStream, EndPoint?, EndPoint?, string?> _accepted;
    private readonly CancellationTokenSource _stop = new();
    private SocketListener? _listener;

    private TlsListener(TlsSettings tls, ILoggingAdapter log, Action<SslStream, EndPoint?, EndPoint?, string?> accepted)
    {
        _tls = tls;
        _log = log;
        _accepted = accepted;
    }

    public IPEndPoint LocalEndpoint => _listener!.LocalEndpoint;

    /// <summary>Listens on <paramref name="address"/>; <paramref name="accepted"/> gets each client after its handshake with the CN of a verified client certificate.</summary>
    public static TlsListener Start(IPAddress address, int port, TlsSettings tls, ILoggingAdapter log,
        Action<SslStream, EndPoint?, EndPoint?, string?> accepted)
    {
        var listener = new TlsListener(tls, log, accepted);
        listener._listener = SocketListener.Start(address, port, "amqps", log, listener.Accept);
        return listener;
    }

    private void Accept(Socket client)
    {
        // A socket reset before it could be set up makes these throw: the listener drops it.
        var remote = client.RemoteEndPoint;
        var local = client.LocalEndPoint;
        var ssl = new SslStream(new NetworkStream(client, ownsSocket: true), leaveInnerStreamOpen: false);
        _ = HandshakeAsync(ssl, remote, local);
    }

    private async Task HandshakeAsync(SslStream ssl, EndPoint? remote, EndPoint? local)
    {
        string? certificateUser = null;
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificate = _tls.Certificate,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificateRequired = _tls.VerifyPeer,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
            {
                if (certificate is null)
                {
                    return !_tls.VerifyPeer;
                }

                bool verified = _tls.CaCertificates is { } authorities
                    ? ChainsTo(certificate, authorities, chain)
                    : errors == SslPolicyErrors.None;
                if (verified)
                {
                    certificateUser = CommonName(certificate);
                }

                return verified || !_tls.VerifyPeer;
            },
        };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(HandshakeTimeout);
            await ssl.AuthenticateAsServerAsync(options, timeout.Token);
        }
        catch (Exception e)
        {
            _log.Warning("amqps connection from {0} refused: TLS handshake failed: {1}", remote, e.GetBaseException().Message);
            await ssl.DisposeAsync();
            return;
        }

        _accepted(ssl, remote, local, certificateUser);
    }

    /// <summary>
    /// Whether a certificate chains to one of <paramref name="authorities"/>, using the
    /// intermediates the peer sent (<paramref name="presented"/>) and never downloading any: a
    /// presented certificate must not make the broker fetch URLs during a handshake.
    /// </summary>
    public static bool ChainsTo(X509Certificate certificate, X509Certificate2Collection authorities, X509Chain? presented = null)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        using var cert = new X509Certificate2(certificate);
        return chain.Build(cert);
    }

    /// <summary>The subject's CN only (no fallback to OU, O or e-mail as GetNameInfo does): the user EXTERNAL logs in as.</summary>
    private static string? CommonName(X509Certificate certificate)
    {
        using var cert = new X509Certificate2(certificate);
        foreach (var rdn in cert.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            if (rdn.GetSingleElementType().Value == "2.5.4.3" && rdn.GetSingleElementValue() is { Length: > 0 } cn)
            {
                return cn;
            }
        }

        return null;
    }

    /// <summary>Stops accepting and ends the handshakes under way.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _listener?.Dispose();
    }
}
