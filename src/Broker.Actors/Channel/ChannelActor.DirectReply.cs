using System.Buffers.Text;
using System.Text;
using Akka.Actor;
using Broker.Actors.Queues;
using Broker.Protocol;
using Broker.Protocol.Methods;

namespace Broker.Actors.Channel;

/// <summary>
/// Direct reply-to (RabbitMQ's amq.rabbitmq.reply-to): RPC without a reply queue. A channel
/// consumes the pseudo-queue in no-ack mode; its publishes with reply_to=amq.rabbitmq.reply-to
/// go out with reply_to rewritten to an address naming this channel; a reply published to the
/// default exchange with that address as routing key is handed straight to this channel, on any
/// node. The address carries a per-channel secret, so a forged one reaches nobody.
/// </summary>
public sealed partial class ChannelActor
{
    public const string DirectReplyTo = "amq.rabbitmq.reply-to";
    private const string DirectReplyPrefix = DirectReplyTo + ".";

    /// <summary>The reply consumer's tag, once the channel consumes amq.rabbitmq.reply-to.</summary>
    private string? _replyConsumerTag;

    /// <summary>This channel's reply address (amq.rabbitmq.reply-to.path.secret), made on first use.</summary>
    private string? _replyAddress;
    private string? _replySecret;

    private IActorRefProvider Provider => ((ExtendedActorSystem)Context.System).Provider;

    private void ConsumeDirectReplies(BasicConsume consume)
    {
        if (!consume.NoAck)
        {
            throw AmqpException.PreconditionFailed("reply consumer cannot acknowledge");
        }

        if (_replyConsumerTag is not null)
        {
            throw AmqpException.PreconditionFailed("reply consumer already set");
        }

        string tag = consume.ConsumerTag.Length > 0 ? consume.ConsumerTag : "amq.ctag-" + Names.Random();
        if (_consumers.ContainsKey(tag))
        {
            throw AmqpException.NotAllowed($"attempt to reuse consumer tag '{tag}'");
        }

        _replyConsumerTag = tag;
        if (!consume.Nowait)
        {
            Emit(new BasicConsumeOk { ConsumerTag = tag });
        }
    }

    /// <summary>basic.cancel of the reply consumer; false when the tag is another consumer's.</summary>
    private bool CancelDirectReplies(BasicCancel cancel)
    {
        if (_replyConsumerTag is null || cancel.ConsumerTag != _replyConsumerTag)
        {
            return false;
        }

        _replyConsumerTag = null;
        if (!cancel.Nowait)
        {
            Emit(new BasicCancelOk { ConsumerTag = cancel.ConsumerTag });
        }

        return true;
    }

    /// <summary>A request asking for a direct reply gets this channel's address as its reply_to.</summary>
    private Message WithReplyAddress(Message message)
    {
        if (_replyConsumerTag is null)
        {
            throw AmqpException.PreconditionFailed("fast reply consumer does not exist");
        }

        if (_replyAddress is null)
        {
            _replySecret = Names.Random();
            string path = Self.Path.ToSerializationFormatWithAddress(Provider.DefaultAddress);
            _replyAddress = DirectReplyPrefix + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(path)) + "." + _replySecret;
        }

        string address = _replyAddress;
        return message.WithProperties(p => p.ReplyTo = address);
    }

    /// <summary>
    /// A reply to a direct reply-to address: handed to that channel. False when the address names
    /// no channel (the message is then unroutable, as in RabbitMQ).
    /// </summary>
    private bool SendDirectReply(Message message)
    {
        if (ResolveReplyAddress(message.RoutingKey, out string secret) is not { } target)
        {
            return false;
        }

        target.Tell(new DirectReply(message, secret));
        return true;
    }

    /// <summary>The channel a reply address names, and the secret it must carry; null when it names none.</summary>
    private IActorRef? ResolveReplyAddress(string address, out string secret)
    {
        secret = string.Empty;
        string rest = address[DirectReplyPrefix.Length..];
        int dot = rest.LastIndexOf('.');
        var pathBytes = new byte[Base64Url.GetMaxDecodedLength(Math.Max(dot, 0))];
        if (dot <= 0 || !Base64Url.TryDecodeFromChars(rest.AsSpan(0, dot), pathBytes, out int length) ||
            !ActorPath.TryParse(Encoding.UTF8.GetString(pathBytes, 0, length), out var path))
        {
            return null;
        }

        // The address comes from a client: it may only name a channel (/user/connection-N/channel-...)
        // on this node or a member of its cluster, never another actor or an arbitrary host.
        var elements = path.Elements;
        bool isChannel = elements.Count == 3 && elements[0] == "user" && elements[1].StartsWith("connection-", StringComparison.Ordinal) &&
                         elements[2].StartsWith("channel-", StringComparison.Ordinal);
        bool known = path.Address.Equals(Provider.DefaultAddress) || !path.Address.HasGlobalScope ||
                     Akka.Cluster.Cluster.Get(Context.System).State.Members.Any(m => m.Address.Equals(path.Address));
        if (!isChannel || !known)
        {
            return null;
        }

        var target = Provider.ResolveActorRef(path);
        if (target is EmptyLocalActorRef or DeadLetterActorRef || target.IsNobody())
        {
            return null;
        }

        secret = rest[(dot + 1)..];
        return target;
    }

    private void OnDirectReply(DirectReply reply)
    {
        // A forged or stale address, or a reply consumer that went: dropped, as RabbitMQ drops it.
        if (_replyConsumerTag is null || _closed || reply.Secret != _replySecret)
        {
            return;
        }

        _deliverMethod.ConsumerTag = _replyConsumerTag;
        _deliverMethod.DeliveryTag = ++_deliveryTag;
        _deliverMethod.Redelivered = false;
        _deliverMethod.Exchange = reply.Message.Exchange;
        _deliverMethod.RoutingKey = reply.Message.RoutingKey;
        EmitContent(_deliverMethod, reply.Message);
    }
}

/// <summary>A reply published to a direct reply-to address, for the channel it names.</summary>
public sealed record DirectReply(Message Message, string Secret) : Cluster.IClusterMessage;
