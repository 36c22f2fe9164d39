using Akka.Actor;

namespace Broker.Actors.Queues;

/// <summary>What the queue's state decided, carried out: journal writes, deliveries, dead-letters, timers.</summary>
public sealed partial class QueueActor : IQueueEffects<IActorRef>
{
    /// <summary>The confirm id of the publish being handed to the state (0: none asked for).</summary>
    private long _publishConfirm;

    /// <summary>A persistent message of a durable queue is confirmed once journaled; any other at once.</summary>
    void IQueueEffects<IActorRef>.Accepted(QueuedMessage message)
    {
        _stats.Counters.Increment(Stats.MessageStat.Publish);
        if (Durable && message.Message.Persistent)
        {
            JournalEnqueue(message, _publishConfirm);
        }
        else
        {
            ConfirmNow(_publishConfirm);
        }
    }

    void IQueueEffects<IActorRef>.Deliver(Consumer<IActorRef> consumer, QueuedMessage message)
    {
        consumer.Channel.Tell(new Deliver(_name, Self, consumer.Tag, message, consumer.NoAck));
        _stats.Counters.Increment(consumer.NoAck ? Stats.MessageStat.DeliverNoAck : Stats.MessageStat.Deliver);
        if (message.Redelivered)
        {
            _stats.Counters.Increment(Stats.MessageStat.Redeliver);
        }

        PrepareWatermark(message.Id);
        _consumersStalled = false;
        _deliveredSinceStallCheck++;
        if (_deferredCredit.Count > 0)
        {
            ReleaseDeferredCredit(1);
        }
    }

    void IQueueEffects<IActorRef>.Removed(QueuedMessage message) => JournalRemove(message);

    void IQueueEffects<IActorRef>.DeadLettered(QueuedMessage message, DeathReason reason) => DeadLetter(message, reason);

    void IQueueEffects<IActorRef>.Due(QueuedMessage message) => ReleaseDelayed(message);

    void IQueueEffects<IActorRef>.WatermarkNeeded(long id) => RaiseWatermark(id);

    void IQueueEffects<IActorRef>.ExpiryDue(long at)
    {
        long delay = Math.Max(0, at - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Timers.StartSingleTimer("expire-messages", ExpireMessages.Instance, TimeSpan.FromMilliseconds(delay));
    }

    private void OnExpireMessages() => _state?.Expire(Tick());

    private sealed class ExpireMessages : INoSerializationVerificationNeeded
    {
        public static readonly ExpireMessages Instance = new();
    }
}
