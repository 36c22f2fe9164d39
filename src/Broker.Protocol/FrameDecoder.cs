using System.Buffers.Binary;
using Broker.Protocol.Methods;

namespace Broker.Protocol;

/// <summary>
/// Turns the bytes of one connection into <see cref="InboundEvent"/>s: checks the protocol header,
/// splits frames (enforcing frame_max before buffering a frame), and assembles content-bearing
/// methods with their header and body (<see cref="ContentAssembly"/>). It learns the negotiated
/// frame_max by watching connection.tune-ok go past, so no other component has to tell it.
/// After a connection error it only lets connection.close and close-ok through, as the spec asks.
/// </summary>
public sealed class FrameDecoder
{
    private static readonly byte[] ExpectedHeader = FrameWriter.ProtocolHeader;

    private readonly int _serverFrameMax;
    private readonly long _maxMessageSize;
    private readonly Dictionary<ushort, ContentAssembly> _content = new();
    private byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;
    private int _frameMax;
    private bool _headerSeen;
    private State _state = State.Open;

    public FrameDecoder(int serverFrameMax, long maxMessageSize)
    {
        _serverFrameMax = serverFrameMax;
        _frameMax = serverFrameMax;
        _maxMessageSize = maxMessageSize;
    }

    private enum State
    {
        /// <summary>Normal operation.</summary>
        Open,

        /// <summary>A connection error was reported: only connection.close/close-ok get through.</summary>
        Closing,

        /// <summary>Framing is lost (bad frame end, oversized frame, wrong protocol): input is dropped.</summary>
        Stopped,
    }

    /// <summary>The frame_max in force: the server's until tune-ok, then the negotiated one.</summary>
    public int FrameMax => _frameMax;

    /// <summary>Decodes as much of the buffered input plus <paramref name="data"/> as forms whole frames.</summary>
    public void Feed(ReadOnlySpan<byte> data, List<InboundEvent> output)
    {
        if (_state == State.Stopped)
        {
            return;
        }

        Append(data);
        while (_state != State.Stopped)
        {
            var available = _buffer.AsSpan(_start, _end - _start);
            if (!_headerSeen)
            {
                if (!TryReadProtocolHeader(available, output))
                {
                    break;
                }

                continue;
            }

            if (available.Length < 7)
            {
                break;
            }

            byte type = available[0];
            ushort channel = BinaryPrimitives.ReadUInt16BigEndian(available[1..]);
            uint size = BinaryPrimitives.ReadUInt32BigEndian(available[3..]);
            if (_frameMax > 0 && size > (uint)(_frameMax - FrameWriter.FrameOverhead))
            {
                Stop(output, AmqpException.FrameError(
                    $"frame of {(long)size + FrameWriter.FrameOverhead} bytes on channel {channel} exceeds frame_max {_frameMax}"));
                break;
            }

            if (available.Length < size + FrameWriter.FrameOverhead)
            {
                break;
            }

            if (available[(int)size + 7] != FrameConstants.End)
            {
                Stop(output, AmqpException.FrameError(
                    $"frame on channel {channel} does not end with 0xCE (got 0x{available[(int)size + 7]:x2})"));
                break;
            }

            var payload = available.Slice(7, (int)size);
            _start += (int)size + FrameWriter.FrameOverhead;
            try
            {
                HandleFrame(type, channel, payload, output);
            }
            catch (AmqpException e)
            {
                if (e.IsConnectionError)
                {
                    Fail(output, channel, e);
                }
                else
                {
                    output.Add(new ProtocolError(channel, e));
                }
            }
        }

        if (_start == _end)
        {
            _start = _end = 0;
        }
    }

    private bool TryReadProtocolHeader(ReadOnlySpan<byte> available, List<InboundEvent> output)
    {
        int n = Math.Min(available.Length, ExpectedHeader.Length);
        if (!available[..n].SequenceEqual(ExpectedHeader.AsSpan(0, n)))
        {
            _state = State.Stopped;
            output.Add(ProtocolHeaderReceived.Rejected);
            return false;
        }

        if (n < ExpectedHeader.Length)
        {
            return false;
        }

        _start += ExpectedHeader.Length;
        _headerSeen = true;
        output.Add(ProtocolHeaderReceived.Accepted);
        return true;
    }

    private void HandleFrame(byte type, ushort channel, ReadOnlySpan<byte> payload, List<InboundEvent> output)
    {
        if (_state == State.Closing)
        {
            // Only the closing handshake matters now; anything else is dropped unread, and so is a
            // method that does not decode (it must not raise a second connection error).
            if (type == FrameConstants.Method && channel == 0)
            {
                Method method;
                try
                {
                    method = MethodDecoder.Decode(payload);
                }
                catch (AmqpException)
                {
                    return;
                }

                if (method is ConnectionClose or ConnectionCloseOk)
                {
                    output.Add(new Command(0, method));
                }
            }

            return;
        }

        switch (type)
        {
            case FrameConstants.Method:
                HandleMethod(channel, payload, output);
                break;
            case FrameConstants.Header:
                PendingFor(channel, "content header").AcceptHeader(payload, _maxMessageSize, output);
                CompleteIfDone(channel, output);
                break;
            case FrameConstants.Body:
                PendingFor(channel, "content body").AcceptBody(payload);
                CompleteIfDone(channel, output);
                break;
            case FrameConstants.Heartbeat:
                if (channel != 0)
                {
                    throw AmqpException.FrameError($"heartbeat frame on channel {channel}");
                }

                output.Add(HeartbeatReceived.Instance);
                break;
            default:
                throw AmqpException.FrameError($"unknown frame type {type}");
        }
    }

    private void HandleMethod(ushort channel, ReadOnlySpan<byte> payload, List<InboundEvent> output)
    {
        if (_content.TryGetValue(channel, out var pending))
        {
            throw AmqpException.UnexpectedFrame(
                $"expected content {(pending.HeaderSeen ? "body" : "header")} for {pending.Method.Name} on channel {channel}, got a method frame");
        }

        var method = MethodDecoder.Decode(payload);
        if (method is ConnectionTuneOk tuneOk && channel == 0)
        {
            _frameMax = tuneOk.FrameMax == 0 ? _serverFrameMax : (int)Math.Min(tuneOk.FrameMax, (uint)_serverFrameMax);
            _frameMax = Math.Max(_frameMax, FrameConstants.MinSize);
        }

        if (method.HasContent)
        {
            if (channel == 0)
            {
                // As RabbitMQ answers any method channel 0 does not expect.
                throw AmqpException.ChannelError($"unexpected {method.Name} on channel 0");
            }

            _content[channel] = new ContentAssembly(channel, method);
            return;
        }

        output.Add(new Command(channel, method));
    }

    private ContentAssembly PendingFor(ushort channel, string what)
    {
        if (!_content.TryGetValue(channel, out var pending))
        {
            throw AmqpException.UnexpectedFrame($"{what} frame on channel {channel} without a content method");
        }

        return pending;
    }

    private void CompleteIfDone(ushort channel, List<InboundEvent> output)
    {
        var pending = _content[channel];
        if (pending.IsComplete)
        {
            _content.Remove(channel);
            if (pending.ToCommand() is { } command)
            {
                output.Add(command);
            }
        }
    }

    private void Fail(List<InboundEvent> output, ushort channel, AmqpException error)
    {
        _state = State.Closing;
        _content.Clear();
        output.Add(new ProtocolError(channel, error));
    }

    private void Stop(List<InboundEvent> output, AmqpException error)
    {
        _state = State.Stopped;
        _content.Clear();
        output.Add(new ProtocolError(0, error));
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        int live = _end - _start;
        if (_end + data.Length > _buffer.Length)
        {
            if (live + data.Length > _buffer.Length)
            {
                var bigger = new byte[Math.Max(_buffer.Length * 2, live + data.Length)];
                _buffer.AsSpan(_start, live).CopyTo(bigger);
                _buffer = bigger;
            }
            else
            {
                _buffer.AsSpan(_start, live).CopyTo(_buffer);
            }

            _start = 0;
            _end = live;
        }

        data.CopyTo(_buffer.AsSpan(_end));
        _end += data.Length;
    }
}
