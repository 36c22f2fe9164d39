using Akka.Actor;

namespace Broker.Actors.Queues;

/// <summary>
/// Credit flow: publishers get credit back as their messages are worked through (and, with a deep
/// backlog and consumers taking messages, only as fast as those consumers); consumers get deliveries
/// only as fast as their channel's socket takes them.
/// </summary>
public sealed partial class QueueActor
{
    private readonly Dictionary<IActorRef, PublisherCredit> _publishers = new();
    private readonly Queue<IActorRef> _deferredCredit = new();
    private int _deliveredSinceCreditRelease;
    private int _deliveredSinceStallCheck;
    private bool _consumersStalled;

    private void GrantPublishCredit()
    {
        ref var p = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_publishers, Sender, out bool known);
        if (!known)
        {
            p = new PublisherCredit();
            WatchChannel(Sender);
        }

        p!.Received++;
        if (++p.SinceGrant >= FlowControl.PublishCreditBatch)
        {
            if (_state?.ReadyCount >= FlowControl.BacklogThreshold && ConsumerCount > 0 && !_consumersStalled)
            {
                _deferredCredit.Enqueue(Sender);
                if (!Timers.IsTimerActive("stall-check"))
                {
                    Timers.StartPeriodicTimer("stall-check", StallCheck.Instance, FlowControl.StallCheckInterval);
                }
            }
            else
            {
                p.Granted += p.SinceGrant;
                Sender.Tell(new PublishCredit(Self, p.Granted, p.Received));
            }

            p.SinceGrant = 0;
        }
    }

    /// <summary>A blocked channel asks what it was granted: the cumulative total makes good a lost grant.</summary>
    private void OnPublishCreditProbe()
    {
        if (_publishers.TryGetValue(Sender, out var p))
        {
            Sender.Tell(new PublishCredit(Self, p.Granted, p.Received));
        }
    }

    /// <summary>Hands one deferred batch of credit to a channel.</summary>
    private void GrantDeferred(IActorRef channel)
    {
        if (_publishers.TryGetValue(channel, out var p))
        {
            p.Granted += FlowControl.PublishCreditBatch;
            channel.Tell(new PublishCredit(Self, p.Granted, p.Received));
        }
    }

    private void ForgetDeferredCredit(IActorRef channel)
    {
        int n = _deferredCredit.Count;
        for (int i = 0; i < n; i++)
        {
            var c = _deferredCredit.Dequeue();
            if (!c.Equals(channel))
            {
                _deferredCredit.Enqueue(c);
            }
        }
    }

    /// <summary>Hands back deferred publish credit as deliveries drain the backlog (or consumers go).</summary>
    private void ReleaseDeferredCredit(int delivered)
    {
        if (_deferredCredit.Count == 0)
        {
            return;
        }

        _deliveredSinceCreditRelease += delivered;
        bool all = ConsumerCount == 0 || (_state?.ReadyCount ?? 0) < FlowControl.BacklogThreshold;
        while (_deferredCredit.Count > 0 && (all || _deliveredSinceCreditRelease >= FlowControl.PublishCreditBatch))
        {
            GrantDeferred(_deferredCredit.Dequeue());
            _deliveredSinceCreditRelease = Math.Max(0, _deliveredSinceCreditRelease - FlowControl.PublishCreditBatch);
        }
    }

    /// <summary>
    /// Consumers that took nothing for a whole interval are stuck, not slow: publishers must not wait
    /// for them, so deferred credit goes back and no more is deferred until deliveries resume.
    /// </summary>
    private void CheckForStalledConsumers()
    {
        if (_deliveredSinceStallCheck == 0)
        {
            _consumersStalled = true;
            while (_deferredCredit.Count > 0)
            {
                GrantDeferred(_deferredCredit.Dequeue());
            }
        }

        _deliveredSinceStallCheck = 0;
        if (_deferredCredit.Count == 0)
        {
            Timers.Cancel("stall-check");
        }
    }

    /// <summary>A publishing channel's credit: publishes since its last grant, all it was granted and all received (cumulative).</summary>
    private sealed class PublisherCredit
    {
        public int SinceGrant;
        public long Granted;
        public long Received;
    }

    private sealed class StallCheck : INoSerializationVerificationNeeded
    {
        public static readonly StallCheck Instance = new();
    }
}
