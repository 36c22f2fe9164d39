namespace Broker.Protocol;

/// <summary>
/// A protocol or semantic error carrying the AMQP reply code to send. Thrown anywhere in decoding or
/// in the broker's method handlers and turned into channel.close or connection.close in one place:
/// <see cref="ReplyCode.IsHardError"/> decides which.
/// </summary>
public sealed class AmqpException : Exception
{
    public AmqpException(ushort replyCode, string replyText, ushort classId = 0, ushort methodId = 0)
        : base(FitShortString(replyText))
    {
        ReplyCode = replyCode;
        ReplyText = Message;
        ClassId = classId;
        MethodId = methodId;
    }

    public ushort ReplyCode { get; }
    public string ReplyText { get; }
    public ushort ClassId { get; }
    public ushort MethodId { get; }

    /// <summary>True when the error closes the whole connection rather than one channel.</summary>
    public bool IsConnectionError => Protocol.ReplyCode.IsHardError(ReplyCode);

    /// <summary>The same error attributed to the method that caused it.</summary>
    public AmqpException For(Method method) =>
        ClassId != 0 ? this : new AmqpException(ReplyCode, ReplyText, method.ClassId, method.MethodId);

    /// <summary>
    /// A reply text is a short string (at most 255 bytes of UTF-8): a longer one (a long queue name
    /// in it, say) is cut at a character boundary, as RabbitMQ cuts it, so the close still goes out.
    /// </summary>
    public static string FitShortString(string text)
    {
        if (text.Length <= 255 / 3 || System.Text.Encoding.UTF8.GetByteCount(text) <= 255)
        {
            return text;
        }

        int bytes = 0;
        int end = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            if (bytes + rune.Utf8SequenceLength > 255)
            {
                break;
            }

            bytes += rune.Utf8SequenceLength;
            end += rune.Utf16SequenceLength;
        }

        return text[..end];
    }

    /// <summary>Reply text as RabbitMQ formats it: the code's name, a dash, the explanation.</summary>
    public static string Format(ushort code, string text) => $"{Name(code)} - {text}";

    public static string Name(ushort code) => code switch
    {
        200 => "REPLY_SUCCESS",
        311 => "CONTENT_TOO_LARGE",
        312 => "NO_ROUTE",
        313 => "NO_CONSUMERS",
        320 => "CONNECTION_FORCED",
        402 => "INVALID_PATH",
        403 => "ACCESS_REFUSED",
        404 => "NOT_FOUND",
        405 => "RESOURCE_LOCKED",
        406 => "PRECONDITION_FAILED",
        501 => "FRAME_ERROR",
        502 => "SYNTAX_ERROR",
        503 => "COMMAND_INVALID",
        504 => "CHANNEL_ERROR",
        505 => "UNEXPECTED_FRAME",
        506 => "RESOURCE_ERROR",
        530 => "NOT_ALLOWED",
        540 => "NOT_IMPLEMENTED",
        541 => "INTERNAL_ERROR",
        _ => code.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public static AmqpException NotFound(string text) => new(Protocol.ReplyCode.NotFound, Format(404, text));
    public static AmqpException AccessRefused(string text) => new(Protocol.ReplyCode.AccessRefused, Format(403, text));
    public static AmqpException ResourceLocked(string text) => new(Protocol.ReplyCode.ResourceLocked, Format(405, text));
    public static AmqpException PreconditionFailed(string text) => new(Protocol.ReplyCode.PreconditionFailed, Format(406, text));
    public static AmqpException NotAllowed(string text) => new(Protocol.ReplyCode.NotAllowed, Format(530, text));
    public static AmqpException CommandInvalid(string text) => new(Protocol.ReplyCode.CommandInvalid, Format(503, text));
    public static AmqpException FrameError(string text) => new(Protocol.ReplyCode.FrameError, Format(501, text));
    public static AmqpException SyntaxError(string text) => new(Protocol.ReplyCode.SyntaxError, Format(502, text));
    public static AmqpException UnexpectedFrame(string text) => new(Protocol.ReplyCode.UnexpectedFrame, Format(505, text));
    public static AmqpException ChannelError(string text) => new(Protocol.ReplyCode.ChannelError, Format(504, text));
    public static AmqpException NotImplemented(string text) => new(Protocol.ReplyCode.NotImplemented, Format(540, text));
    public static AmqpException InternalError(string text) => new(Protocol.ReplyCode.InternalError, Format(541, text));
}
