using System.Net.Sockets;
using RabbitMQ.Client;

namespace Broker.Bench;

/// <summary>
/// Holds the socket of one client connection so that the soak can kill it the way a crashed
/// process or a dropped network would: no connection.close, only the TCP connection ending.
/// Disposing an <see cref="IConnection"/> would not do: the client sends connection.close first.
/// </summary>
internal sealed class KillSwitch
{
    private Socket? _socket;

    /// <summary>Makes <paramref name="factory"/> create its socket through this switch.</summary>
    public ConnectionFactory Arm(ConnectionFactory factory)
    {
        factory.SocketFactory = family =>
        {
            ITcpClient client = ConnectionFactory.DefaultSocketFactory(family);
            _socket = client.Client;
            return client;
        };
        return factory;
    }

    /// <summary>
    /// Ends the connection. <paramref name="reset"/>: RST (linger 0, as the kernel does for a killed
    /// process with unread data); otherwise FIN after a shutdown of both directions.
    /// </summary>
    public void Kill(bool reset)
    {
        Socket? socket = _socket;
        if (socket is null)
        {
            return;
        }
        try
        {
            if (reset)
            {
                socket.LingerState = new LingerOption(true, 0);
            }
            else
            {
                socket.Shutdown(SocketShutdown.Both);
            }
            socket.Close();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // already closed: the connection is gone either way
        }
    }
}
