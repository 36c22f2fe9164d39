using System.Net.Sockets;
using Broker.Protocol;
using Broker.Protocol.Methods;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// A minimal AMQP client built on the broker's own codec, for what RabbitMQ.Client cannot send:
/// malformed frames, channel.flow, basic.recover, silence instead of heartbeats, odd tune values.
/// </summary>
public sealed class RawAmqpClient : IAsyncDisposable
{
    private readonly TcpClient _tcp = new();
    private readonly FrameDecoder _decoder = new(1 << 20, 1 << 28);
    private readonly Queue<InboundEvent> _events = new();
    private readonly byte[] _buffer = new byte[64 * 1024];
    private NetworkStream _stream = null!;

    public static async Task<RawAmqpClient> ConnectAsync(int port)
    {
        var c = new RawAmqpClient();
        await c._tcp.ConnectAsync("127.0.0.1", port);
        c._stream = c._tcp.GetStream();
        return c;
    }

    /// <summary>
    /// The handshake (PLAIN) into <paramref name="vhost"/>, and the broker's answer to
    /// connection.open: open-ok, or the connection.close refusing it (no client library in between
    /// to lose it).
    /// </summary>
    public static async Task<Method> OpenReplyAsync(int port, string vhost, string user = "guest", string password = "guest")
    {
        await using var c = await ConnectAsync(port);
        await c.SendRawAsync(FrameWriter.ProtocolHeader);
        await c.ExpectAsync<ConnectionStart>();
        await c.SendAsync(0, new ConnectionStartOk { Mechanism = "PLAIN", Response = System.Text.Encoding.UTF8.GetBytes($"\0{user}\0{password}") });
        await c.ExpectAsync<ConnectionTune>();
        await c.SendAsync(0, new ConnectionTuneOk { FrameMax = 131072 });
        await c.SendAsync(0, new ConnectionOpen { VirtualHost = vhost });
        var reply = (await c.ExpectCommandAsync()).Method;
        if (reply is ConnectionClose)
        {
            await c.SendAsync(0, new ConnectionCloseOk());
        }

        return reply;
    }

    /// <summary>Header, start-ok (PLAIN guest), tune-ok with the given values, open "/".</summary>
    public static async Task<RawAmqpClient> OpenAsync(int port, ushort heartbeat = 0, uint frameMax = 131072, ushort channelMax = 0)
    {
        var c = await ConnectAsync(port);
        await c.SendRawAsync(FrameWriter.ProtocolHeader);
        await c.ExpectAsync<ConnectionStart>();
        await c.SendAsync(0, new ConnectionStartOk
        {
            ClientProperties = new FieldTable { ["product"] = "raw-test" },
            Mechanism = "PLAIN",
            Response = "\0guest\0guest"u8.ToArray(),
        });
        await c.ExpectAsync<ConnectionTune>();
        await c.SendAsync(0, new ConnectionTuneOk { ChannelMax = channelMax, FrameMax = frameMax, Heartbeat = heartbeat });
        await c.SendAsync(0, new ConnectionOpen { VirtualHost = "/" });
        await c.ExpectAsync<ConnectionOpenOk>();
        return c;
    }

    public Task SendRawAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask();

    public Task SendAsync(ushort channel, Method method)
    {
        var w = new AmqpWriter();
        FrameWriter.WriteMethod(w, channel, method);
        return SendRawAsync(w.ToArray());
    }

    public Task PublishAsync(ushort channel, string exchange, string routingKey, byte[] body, BasicProperties? props = null)
    {
        var w = new AmqpWriter();
        FrameWriter.WriteContent(w, channel, new BasicPublish { Exchange = exchange, RoutingKey = routingKey },
            ContentHeader.EncodeProperties(props ?? new BasicProperties()), body, 131072);
        return SendRawAsync(w.ToArray());
    }

    /// <summary>The next event from the broker, skipping heartbeats; null when the socket closed.</summary>
    public async Task<InboundEvent?> NextAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Wait.Default);
        while (true)
        {
            while (_events.Count > 0)
            {
                var e = _events.Dequeue();
                if (e is not HeartbeatReceived and not ProtocolHeaderReceived)
                {
                    return e;
                }
            }

            int n;
            try
            {
                n = await _stream.ReadAsync(_buffer, cts.Token);
            }
            catch (IOException)
            {
                return null;
            }

            if (n == 0)
            {
                return null;
            }

            var list = new List<InboundEvent>();
            if (!_headerFed)
            {
                // The decoder expects a protocol header first; the broker's side never sends one.
                _decoder.Feed(FrameWriter.ProtocolHeader, list);
                _headerFed = true;
            }

            _decoder.Feed(_buffer.AsSpan(0, n), list);
            foreach (var e in list)
            {
                _events.Enqueue(e);
            }
        }
    }

    private bool _headerFed;

    /// <summary>Waits for a heartbeat frame from the broker (other frames are kept for later).</summary>
    public async Task WaitForHeartbeatAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            int n = await _stream.ReadAsync(_buffer, cts.Token);
            if (n == 0)
            {
                throw new Xunit.Sdk.XunitException("socket closed while waiting for a heartbeat");
            }

            var list = new List<InboundEvent>();
            _decoder.Feed(_buffer.AsSpan(0, n), list);
            bool seen = false;
            foreach (var e in list)
            {
                if (e is HeartbeatReceived)
                {
                    seen = true;
                }
                else
                {
                    _events.Enqueue(e);
                }
            }

            if (seen)
            {
                return;
            }
        }
    }

    public async Task<T> ExpectAsync<T>(TimeSpan? timeout = null) where T : Method
    {
        var e = await NextAsync(timeout);
        if (e is Command { Method: T m })
        {
            return m;
        }

        throw new Xunit.Sdk.XunitException($"expected {typeof(T).Name}, got {e?.ToString() ?? "socket closed"}");
    }

    public async Task<Command> ExpectCommandAsync(TimeSpan? timeout = null)
    {
        var e = await NextAsync(timeout);
        return e as Command ?? throw new Xunit.Sdk.XunitException($"expected a command, got {e?.ToString() ?? "socket closed"}");
    }

    /// <summary>True when the broker closed the socket within the bound.</summary>
    public async Task<bool> ClosedWithinAsync(TimeSpan bound)
    {
        using var cts = new CancellationTokenSource(bound);
        try
        {
            while (true)
            {
                int n = await _stream.ReadAsync(_buffer, cts.Token);
                if (n == 0)
                {
                    return true;
                }
            }
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
