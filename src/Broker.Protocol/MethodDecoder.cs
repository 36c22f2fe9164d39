namespace Broker.Protocol.Methods;

public static partial class MethodDecoder
{
    /// <summary>
    /// Decodes a method frame payload (class-id, method-id, arguments). Unknown ids are 540
    /// NOT_IMPLEMENTED; truncated or trailing bytes are 501 FRAME_ERROR.
    /// </summary>
    public static Method Decode(ReadOnlySpan<byte> payload)
    {
        var r = new AmqpReader(payload);
        ushort classId = r.ReadShort();
        ushort methodId = r.ReadShort();
        var method = DecodeArguments(classId, methodId, ref r)
            ?? throw new AmqpException(ReplyCode.NotImplemented,
                AmqpException.Format(ReplyCode.NotImplemented, $"unknown method class={classId} method={methodId}"),
                classId, methodId);
        if (r.Remaining != 0)
        {
            throw new AmqpException(ReplyCode.FrameError,
                AmqpException.Format(ReplyCode.FrameError, $"{r.Remaining} trailing bytes after {method.Name}"),
                classId, methodId);
        }

        return method;
    }
}
