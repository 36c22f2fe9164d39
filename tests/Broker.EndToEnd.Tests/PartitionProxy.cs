using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// TCP forwarders in front of each node's cluster endpoint, on loopback, to cut nodes off from each
/// other while everything else (clients, PostgreSQL) still reaches them. Node i binds its endpoint
/// on its own loopback address and advertises the proxy's port there, so every cluster connection
/// to it passes through proxy i. A connection's origin is read from the first bytes the dialling
/// node sends (Akka.Remote's handshake names the sender's address), so proxy j can also refuse
/// the connections node i opens towards node j. Isolating a node closes every connection it is
/// part of and refuses new ones until healed.
/// </summary>
public sealed class PartitionProxy : IAsyncDisposable
{
    private readonly List<Forwarder> _forwarders = new();
    private readonly HashSet<int> _isolated = new();
    private readonly object _lock = new();

    /// <summary>Node i's own loopback address (its cluster endpoint and its proxy listen there).</summary>
    public static string HostOf(int i) => $"127.0.0.{21 + i}";

    /// <summary>Starts one forwarder per node: public port -> the node's real cluster port.</summary>
    public static PartitionProxy Start(IReadOnlyList<int> publicPorts, IReadOnlyList<int> nodePorts)
    {
        var proxy = new PartitionProxy();
        for (int i = 0; i < publicPorts.Count; i++)
        {
            proxy._forwarders.Add(new Forwarder(proxy, i, publicPorts[i], nodePorts[i]));
        }

        return proxy;
    }

    /// <summary>Cuts node <paramref name="i"/> off from every other node.</summary>
    public void Isolate(int i)
    {
        lock (_lock)
        {
            _isolated.Add(i);
        }

        foreach (var f in _forwarders)
        {
            f.CloseBlocked();
        }
    }

    public void Heal()
    {
        lock (_lock)
        {
            _isolated.Clear();
        }
    }

    private bool Blocked(int origin, int target)
    {
        lock (_lock)
        {
            return origin != target && (_isolated.Contains(target) || (origin >= 0 && _isolated.Contains(origin)));
        }
    }

    /// <summary>Which node opened a connection, from the address in its handshake (-1: not recognised).</summary>
    private int OriginOf(byte[] first, int length)
    {
        string text = Encoding.ASCII.GetString(first, 0, length);
        for (int i = 0; i < _forwarders.Count; i++)
        {
            if (text.Contains(HostOf(i), StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var f in _forwarders)
        {
            await f.DisposeAsync();
        }
    }

    private sealed class Forwarder : IAsyncDisposable
    {
        private readonly PartitionProxy _proxy;
        private readonly int _target;
        private readonly int _nodePort;
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly List<(int Origin, TcpClient Client, TcpClient Upstream)> _links = new();
        private readonly Task _accepting;

        public Forwarder(PartitionProxy proxy, int target, int publicPort, int nodePort)
        {
            _proxy = proxy;
            _target = target;
            _nodePort = nodePort;
            _listener = new TcpListener(IPAddress.Parse(HostOf(target)), publicPort);
            _listener.Start();
            _accepting = Task.Run(AcceptLoopAsync);
        }

        private async Task AcceptLoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(_stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }

                _ = Task.Run(() => LinkAsync(client));
            }
        }

        private async Task LinkAsync(TcpClient client)
        {
            TcpClient? upstream = null;
            try
            {
                var inbound = client.GetStream();
                // The handshake may arrive in pieces: read until it names its sender (or 1 s passed).
                var first = new byte[4096];
                int n = 0, origin = -1;
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(1);
                while (origin < 0 && n < first.Length && DateTime.UtcNow < deadline)
                {
                    int read = await inbound.ReadAsync(first.AsMemory(n), _stop.Token).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                    if (read == 0)
                    {
                        break;
                    }

                    n += read;
                    origin = _proxy.OriginOf(first, n);
                }

                if (n == 0 || _proxy.Blocked(origin, _target))
                {
                    client.Close();
                    return;
                }

                upstream = new TcpClient();
                await upstream.ConnectAsync(IPAddress.Parse(HostOf(_target)), _nodePort, _stop.Token);
                var outbound = upstream.GetStream();
                await outbound.WriteAsync(first.AsMemory(0, n), _stop.Token);
                lock (_links)
                {
                    _links.Add((origin, client, upstream));
                }

                await Task.WhenAny(inbound.CopyToAsync(outbound, _stop.Token), outbound.CopyToAsync(inbound, _stop.Token));
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or TimeoutException
                                          or ObjectDisposedException)
            {
                // A side closed, or the link was cut.
            }
            finally
            {
                client.Close();
                upstream?.Close();
            }
        }

        /// <summary>Closes the links a partition now forbids.</summary>
        public void CloseBlocked()
        {
            lock (_links)
            {
                foreach (var link in _links.Where(l => _proxy.Blocked(l.Origin, _target)).ToList())
                {
                    link.Client.Close();
                    link.Upstream.Close();
                    _links.Remove(link);
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            await _accepting.ContinueWith(_ => { });
            lock (_links)
            {
                foreach (var link in _links)
                {
                    link.Client.Close();
                    link.Upstream.Close();
                }
            }
        }
    }
}
