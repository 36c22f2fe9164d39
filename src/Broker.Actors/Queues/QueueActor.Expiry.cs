using Akka.Actor;
using Akka.Event;

namespace Broker.Actors.Queues;

/// <summary>
/// x-expires: a queue nobody uses (no consumer, no basic.get, no redeclare) for the period is
/// deleted. The period starts again at every use, and when the queue is recovered.
/// </summary>
public sealed partial class QueueActor
{
    private void RestartExpiryTimer()
    {
        if (_state is { Arguments.Expires: { } ms, ConsumerCount: 0 })
        {
            Timers.StartSingleTimer("expire-queue", ExpireQueue.Instance, TimeSpan.FromMilliseconds(ms));
        }
    }

    private void StopExpiryTimer() => Timers.Cancel("expire-queue");

    private void OnExpireQueue(ExpireQueue _)
    {
        if (_state is not { Arguments.Expires: not null } || _state.ConsumerCount > 0 || _stopping)
        {
            return;
        }

        _log.Info("Deleting queue '{0}' in vhost '{1}': unused for {2} ms (x-expires)", _name, _vhost, _state.Arguments.Expires);
        Remove(ActorRefs.Nobody, 0);
    }

    private sealed class ExpireQueue : INoSerializationVerificationNeeded
    {
        public static readonly ExpireQueue Instance = new();
    }
}
