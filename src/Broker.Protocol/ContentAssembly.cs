namespace Broker.Protocol;

/// <summary>
/// The state of one channel's content-bearing method between its method frame and its last body
/// frame: method -> header -> body frames until body-size bytes arrived.
/// </summary>
internal sealed class ContentAssembly
{
    private const int InitialBodyBuffer = 1024 * 1024;

    private readonly ushort _channel;
    private ContentHeader? _header;
    private byte[]? _body;
    private long _received;
    private long _expected;
    private AmqpException? _rejected;

    public ContentAssembly(ushort channel, Method method)
    {
        _channel = channel;
        Method = method;
    }

    public Method Method { get; }

    public bool HeaderSeen => _header is not null || _rejected is not null;

    public bool IsComplete => HeaderSeen && _received == _expected;

    public void AcceptHeader(ReadOnlySpan<byte> payload, long maxMessageSize, List<InboundEvent> output)
    {
        if (HeaderSeen)
        {
            throw AmqpException.UnexpectedFrame($"second content header for {Method.Name} on channel {_channel}");
        }

        var header = ContentHeader.Decode(payload);
        if (header.ClassId != Method.ClassId)
        {
            throw AmqpException.UnexpectedFrame(
                $"content header class {header.ClassId} does not match {Method.Name} on channel {_channel}");
        }

        _expected = header.BodySize > long.MaxValue ? long.MaxValue : (long)header.BodySize;
        if (_expected > maxMessageSize)
        {
            // A channel error, as RabbitMQ's max_message_size check is; the body frames that
            // follow are still read (and dropped) so the connection stays in step.
            _rejected = AmqpException.PreconditionFailed(
                $"message size {header.BodySize} is larger than configured max size {maxMessageSize}");
            return;
        }

        _header = header;
        // Grown as body frames arrive, so a header alone cannot make the broker allocate a large
        // declared size up front.
        _body = _expected == 0 ? Array.Empty<byte>() : new byte[Math.Min(_expected, InitialBodyBuffer)];
    }

    public void AcceptBody(ReadOnlySpan<byte> payload)
    {
        if (!HeaderSeen)
        {
            throw AmqpException.UnexpectedFrame($"content body before content header on channel {_channel}");
        }

        if (_received + payload.Length > _expected)
        {
            throw AmqpException.FrameError(
                $"content body of {_received + payload.Length} bytes exceeds the declared {_expected} on channel {_channel}");
        }

        if (_body is not null)
        {
            long needed = _received + payload.Length;
            if (needed > _body.Length)
            {
                Array.Resize(ref _body, (int)Math.Min(_expected, Math.Max(needed, 2L * _body.Length)));
            }

            payload.CopyTo(_body.AsSpan((int)_received));
        }

        _received += payload.Length;
    }

    /// <summary>The finished command, or a channel-level protocol error if the content was refused.</summary>
    public InboundEvent? ToCommand() =>
        _rejected is not null
            ? new ProtocolError(_channel, _rejected.For(Method))
            : new Command(_channel, Method, _header, _body);
}
