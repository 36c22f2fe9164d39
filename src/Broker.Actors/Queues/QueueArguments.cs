using Broker.Protocol;

namespace Broker.Actors.Queues;

/// <summary>What x-overflow says a full queue does with a new message.</summary>
public enum Overflow
{
    /// <summary>Take it and drop (dead-letter) the oldest: RabbitMQ's default.</summary>
    DropHead,

    /// <summary>Refuse it: basic.nack to a confirming publisher, dropped otherwise.</summary>
    RejectPublish,

    /// <summary>Refuse it as reject-publish does, and dead-letter it.</summary>
    RejectPublishDlx,
}

/// <summary>
/// The queue arguments that change how a queue behaves, parsed and checked once at declare as
/// RabbitMQ checks them (rabbit_amqqueue's declare_args): a wrong type or range is 406
/// PRECONDITION_FAILED with RabbitMQ's text. Arguments RabbitMQ does not know are kept in the
/// definition and ignored.
/// </summary>
public sealed record QueueArguments
{
    /// <summary>The largest TTL or expiry RabbitMQ accepts: ten years in ms.</summary>
    public const long MaxExpiry = 315_360_000_000;

    public const int MaxSupportedPriority = 255;

    public static readonly QueueArguments None = new();

    public long? MessageTtl { get; init; }

    public long? Expires { get; init; }

    public string? DeadLetterExchange { get; init; }

    public string? DeadLetterRoutingKey { get; init; }

    public long? MaxLength { get; init; }

    public long? MaxLengthBytes { get; init; }

    public Overflow Overflow { get; init; }

    public byte MaxPriority { get; init; }

    public long? DeliveryLimit { get; init; }

    public bool SingleActiveConsumer { get; init; }

    /// <summary>
    /// Set on the hidden queue that holds a delayed-message exchange's messages until they are due
    /// (DelayedMessages.QueueArgument): the exchange's name.
    /// </summary>
    public string? DelayFor { get; init; }

    /// <summary>Quorum queues count returns and tell consumers (x-delivery-count), as RabbitMQ's do.</summary>
    public bool CountsDeliveries { get; init; }

    /// <summary>Parses a declare's arguments; throws 406 for a value RabbitMQ would refuse.</summary>
    public static QueueArguments Parse(FieldTable args, string vhost, string name, string queueType)
    {
        if (args.Count == 0 && queueType == "classic")
        {
            return None;
        }

        var p = new Parser(args, $"queue '{name}' in vhost '{vhost}'");
        p.NotFor(queueType, "quorum", "x-max-priority", "x-queue-mode");
        p.OneOf("x-queue-mode", "unsupported queue mode", "default", "lazy");
        p.OneOf("x-queue-master-locator", "unsupported queue master locator", "min-masters", "client-local", "random");
        long? maxPriority = p.NonNegative("x-max-priority");
        if (maxPriority > MaxSupportedPriority)
        {
            throw p.Invalid("x-max-priority", $"{{max_value_exceeded,{maxPriority}}}");
        }

        var deadLetterExchange = p.LongString("x-dead-letter-exchange");
        var deadLetterRoutingKey = p.LongString("x-dead-letter-routing-key");
        if (deadLetterRoutingKey is not null && deadLetterExchange is null)
        {
            throw p.Invalid("x-dead-letter-routing-key", "routing_key_but_no_dlx_defined");
        }

        var expires = p.Expiry("x-expires");
        if (expires == 0)
        {
            throw p.Invalid("x-expires", "{value_zero,0}");
        }

        return new QueueArguments
        {
            MessageTtl = p.Expiry("x-message-ttl"),
            Expires = expires,
            DeadLetterExchange = deadLetterExchange,
            DeadLetterRoutingKey = deadLetterRoutingKey,
            MaxLength = p.NonNegative("x-max-length"),
            MaxLengthBytes = p.NonNegative("x-max-length-bytes"),
            Overflow = p.Overflow(),
            MaxPriority = (byte)(maxPriority ?? 0),
            DeliveryLimit = p.NonNegative("x-delivery-limit"),
            SingleActiveConsumer = p.Bool("x-single-active-consumer") ?? false,
            CountsDeliveries = queueType == "quorum",
            DelayFor = p.LongString(DelayedMessages.QueueArgument),
        };
    }

    /// <summary>
    /// The settings in force for a queue: its own arguments, and where they leave room its policy's,
    /// merged as RabbitMQ merges them: for the TTLs, the expiry and the limits the lower of the
    /// two; for the dead-letter exchange, its routing key and the overflow mode the queue's own
    /// argument wins. The maximum priority never comes from a policy.
    /// </summary>
    public QueueArguments WithPolicy(Policies.Policy? policy, FieldTable declared)
    {
        if (policy is null || DelayFor is not null)
        {
            return this;
        }

        static long? Lower(long? a, long? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);
        return this with
        {
            MessageTtl = Lower(MessageTtl, policy.Integer("message-ttl")),
            Expires = Lower(Expires, policy.Integer("expires")),
            MaxLength = Lower(MaxLength, policy.Integer("max-length")),
            MaxLengthBytes = Lower(MaxLengthBytes, policy.Integer("max-length-bytes")),
            DeliveryLimit = Lower(DeliveryLimit, policy.Integer("delivery-limit")),
            DeadLetterExchange = DeadLetterExchange ?? policy.Text("dead-letter-exchange"),
            DeadLetterRoutingKey = DeadLetterRoutingKey ?? policy.Text("dead-letter-routing-key"),
            Overflow = declared.ContainsKey("x-overflow") ? Overflow : policy.Text("overflow") switch
            {
                "reject-publish" => Queues.Overflow.RejectPublish,
                "reject-publish-dlx" => Queues.Overflow.RejectPublishDlx,
                _ => Overflow,
            },
        };
    }

    /// <summary>Reads one argument at a time, with RabbitMQ's error terms.</summary>
    private readonly struct Parser(FieldTable args, string queue)
    {
        public long? Integer(string key)
        {
            if (!args.TryGetValue(key, out var v))
            {
                return null;
            }

            return FieldValues.AsLong(v) ?? throw Invalid(key, $"\"expected integer, got {ErlangType(v)}\"");
        }

        public long? NonNegative(string key)
        {
            long? n = Integer(key);
            return n < 0 ? throw Invalid(key, $"{{value_negative,{n}}}") : n;
        }

        /// <summary>A TTL in ms: 0 to ten years (rabbit_misc:check_expiry).</summary>
        public long? Expiry(string key)
        {
            long? n = NonNegative(key);
            return n > MaxExpiry ? throw Invalid(key, $"{{value_too_large,{n}}}") : n;
        }

        public string? LongString(string key)
        {
            if (!args.TryGetValue(key, out var v))
            {
                return null;
            }

            if (v is byte[] or string)
            {
                return FieldValues.AsString(v);
            }

            // RabbitMQ words this one differently (rabbit_amqqueue:check_dlxname_arg).
            throw key == "x-dead-letter-exchange"
                ? AmqpException.PreconditionFailed($"invalid type '{ErlangType(v)}' for arg '{key}' in {queue}")
                : Invalid(key, $"{{unacceptable_type,{ErlangType(v)}}}");
        }

        /// <summary>A string argument that must be one of a few words (accepted and otherwise ignored here).</summary>
        public void OneOf(string key, string what, params string[] allowed)
        {
            if (LongString(key) is { } value && !allowed.Contains(value))
            {
                throw Invalid(key, $"\"{what} '{value}'\"");
            }
        }

        /// <summary>Arguments a queue type does not support, refused as RabbitMQ refuses them.</summary>
        public void NotFor(string queueType, string type, params string[] keys)
        {
            foreach (var key in keys)
            {
                if (queueType == type && args.ContainsKey(key))
                {
                    throw AmqpException.PreconditionFailed($"invalid arg '{key}' for {queue} of queue type rabbit_{type}_queue");
                }
            }
        }

        public bool? Bool(string key)
        {
            if (!args.TryGetValue(key, out var v))
            {
                return null;
            }

            return v is bool b ? b : throw Invalid(key, $"{{unacceptable_type,{ErlangType(v)}}}");
        }

        public Overflow Overflow()
        {
            const string key = "x-overflow";
            return LongString(key) switch
            {
                null or "drop-head" => Queues.Overflow.DropHead,
                "reject-publish" => Queues.Overflow.RejectPublish,
                "reject-publish-dlx" => Queues.Overflow.RejectPublishDlx,
                _ => throw Invalid(key, "invalid_overflow"),
            };
        }

        public AmqpException Invalid(string key, string error) =>
            AmqpException.PreconditionFailed($"invalid arg '{key}' for {queue}: {error}");
    }

    /// <summary>The AMQP field type as RabbitMQ names it in its errors.</summary>
    internal static string ErlangType(object? value) => value switch
    {
        byte[] or string => "longstr",
        bool => "bool",
        sbyte => "byte",
        byte => "unsignedbyte",
        short => "short",
        ushort => "unsignedshort",
        int => "signedint",
        uint => "unsignedint",
        long => "long",
        float => "float",
        double => "double",
        AmqpDecimal => "decimal",
        AmqpTimestamp => "timestamp",
        FieldTable => "table",
        ByteArrayValue => "binary",
        null => "void",
        _ => "array",
    };
}
