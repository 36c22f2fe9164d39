using System.Net;
using System.Net.Sockets;
using Akka.Event;

namespace Broker.Actors.Transport;

/// <summary>
/// A TCP listener on one address: accepts sockets in a loop of its own and hands each to a
/// callback (the amqp listener runs the connection over it, the amqps one does the TLS handshake
/// first). The broker accepts its sockets itself rather than through Akka.Streams' TCP server:
/// Akka.NET's (1.5.74 and 1.5.75) keeps every connection it ever accepted reachable from the
/// listener, and with it the connection's whole stream graph (ConnectionLeakTests).
/// </summary>
public sealed class SocketListener : IDisposable
{
    /// <summary>Connections the kernel completes while the loop is busy: a burst of clients reconnecting after a restart.</summary>
    private const int Backlog = 1024;

    /// <summary>
    /// The kernel's send and receive buffers of every accepted socket (set on the listener, which
    /// its sockets inherit: the receive buffer must be in place before the handshake for TCP to
    /// scale its window to it). 256 KiB lets a publisher or a consumer stream without waiting on
    /// every round trip.
    /// </summary>
    private const int SocketBuffer = 256 * 1024;

    /// <summary>How long the loop waits after an accept failed for want of resources.</summary>
    private static readonly TimeSpan AcceptRetry = TimeSpan.FromMilliseconds(100);

    private readonly Socket _socket;
    private readonly string _name;
    private readonly ILoggingAdapter _log;
    private readonly Action<Socket> _accepted;
    private readonly CancellationTokenSource _stop = new();

    private SocketListener(Socket socket, string name, ILoggingAdapter log, Action<Socket> accepted)
    {
        _socket = socket;
        LocalEndpoint = (IPEndPoint)socket.LocalEndPoint!;
        _name = name;
        _log = log;
        _accepted = accepted;
    }

    /// <summary>The bound address, with the real port when 0 was asked for.</summary>
    public IPEndPoint LocalEndpoint { get; }

    /// <summary>
    /// Listens on <paramref name="address"/> (<paramref name="port"/> 0: a free port, see
    /// <see cref="LocalEndpoint"/>); <paramref name="accepted"/> gets each socket, with no delay on
    /// (frames are coalesced before they are written), and owns it from then on. Throws if the
    /// address cannot be bound.
    /// </summary>
    public static SocketListener Start(IPAddress address, int port, string name, ILoggingAdapter log, Action<Socket> accepted)
    {
        // No ReuseAddress: on Linux .NET sets SO_REUSEPORT with it, and a second node on the same
        // port would then share the port instead of failing to start.
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.ReceiveBufferSize = SocketBuffer;
            socket.SendBufferSize = SocketBuffer;
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(Backlog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var listener = new SocketListener(socket, name, log, accepted);
        _ = listener.AcceptLoopAsync();
        return listener;
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
            {
                // Reset by the client while it waited in the backlog.
                continue;
            }
            catch (SocketException e)
            {
                // Out of file descriptors, most likely: the connection stays in the backlog and the
                // next accept would fail at once, so the loop pauses rather than spin (and log) at full speed.
                _log.Warning("{0} listener on {1}: accept failed: {2}", _name, LocalEndpoint, e.Message);
                try
                {
                    await Task.Delay(AcceptRetry, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            try
            {
                client.NoDelay = true;
                _accepted(client);
            }
            catch (Exception e)
            {
                // Reset before it could be set up (its endpoints are gone): nothing to serve. Anything
                // else must not end the loop either, so it is logged and the client dropped.
                if (e is not (SocketException or ObjectDisposedException))
                {
                    _log.Error(e, "{0} listener on {1}: could not take a connection", _name, LocalEndpoint);
                }

                client.Dispose();
            }
        }
    }

    /// <summary>Stops accepting; sockets accepted already are their owners' to close.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
    }
}
