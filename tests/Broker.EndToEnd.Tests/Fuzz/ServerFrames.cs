using System.Net.Sockets;
using Broker.Protocol;

namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>
/// Reads what the broker sends on a fuzzed connection, decoded with the broker's own codec. A
/// broker that refuses the protocol answers with its protocol header instead of frames; that is
/// noted (<see cref="SawProtocolHeader"/>) rather than decoded.
/// </summary>
public sealed class ServerFrames
{
    private readonly Socket _socket;
    private readonly FrameDecoder _decoder = new(1 << 20, 1 << 28);
    private readonly Queue<InboundEvent> _events = new();
    private readonly byte[] _buffer = new byte[64 * 1024];
    private bool _started;

    public ServerFrames(Socket socket) => _socket = socket;

    public bool SawProtocolHeader { get; private set; }

    /// <summary>The next method from the broker (heartbeats skipped); null once the socket is closed.</summary>
    public async Task<Command?> NextAsync(CancellationToken cancel)
    {
        while (true)
        {
            while (_events.Count > 0)
            {
                switch (_events.Dequeue())
                {
                    case Command c:
                        return c;
                    case ProtocolError e:
                        throw new InvalidDataException($"the broker sent a malformed frame: {e.Error.ReplyText}");
                }
            }

            int n;
            try
            {
                n = await _socket.ReceiveAsync(_buffer, SocketFlags.None, cancel);
            }
            catch (SocketException)
            {
                return null; // reset by the broker: closed all the same
            }

            if (n == 0 || SawProtocolHeader)
            {
                if (n == 0)
                {
                    return null;
                }

                continue; // after its header a refusing broker only closes; drain until it does
            }

            var bytes = _buffer.AsSpan(0, n);
            if (!_started)
            {
                _started = true;
                if (bytes[0] == (byte)'A')
                {
                    SawProtocolHeader = true;
                    continue;
                }

                // The decoder expects a protocol header first; the broker's side never sends one.
                _decoder.Feed(FrameWriter.ProtocolHeader, new List<InboundEvent>());
            }

            var list = new List<InboundEvent>();
            _decoder.Feed(bytes, list);
            foreach (var e in list)
            {
                _events.Enqueue(e);
            }
        }
    }
}
