using Akka.Actor;
using Akka.Event;
using Broker.Protocol;

namespace Broker.Actors.Queues;

/// <summary>Consumers, deliveries, basic.get, settlements and channels that go away.</summary>
public sealed partial class QueueActor
{
    private readonly Dictionary<long, Unacked> _unacked = new();
    private readonly List<Consumer> _consumers = new();
    private int _roundRobin;
    private bool _hadConsumers;

    private uint ConsumerCount => (uint)_consumers.Count;

    private void AddConsumer(AddConsumer cmd)
    {
        if (_consumers.Count > 0 && (cmd.Exclusive || _consumers.Exists(c => c.Exclusive)))
        {
            Fail(AmqpException.AccessRefused($"queue '{_name}' in vhost '{_vhost}' in exclusive use"));
            return;
        }

        _consumers.Add(new Consumer(cmd.Tag, Sender, cmd.NoAck, cmd.Exclusive, cmd.Prefetch, cmd.Window));
        WatchChannel(Sender);
        _hadConsumers = true;
        Sender.Tell(new ConsumerAdded(cmd.Tag));
        DeliverReady();
    }

    private void RemoveConsumer(RemoveConsumer cmd)
    {
        int i = _consumers.FindIndex(c => c.Tag == cmd.Tag && c.Channel.Equals(Sender));
        if (i >= 0)
        {
            _consumers.RemoveAt(i);
        }

        Sender.Tell(new ConsumerRemoved(cmd.Tag));
        ReleaseDeferredCredit(0);
        DeleteIfUnused();
    }

    private void Get(GetMessage cmd)
    {
        if (_ready.Count == 0 || !LeaseValid)
        {
            Sender.Tell(new GetResult(_name, null, 0));
            return;
        }

        if (!MayDeliver(_ready.PeekFront()))
        {
            // Record that this message may be delivered before handing it out (see DeliveryWatermark).
            var replyTo = Sender;
            RaiseWatermark(_ready.PeekFront().Id, () => GetNow(cmd, replyTo));
            return;
        }

        GetNow(cmd, Sender);
    }

    private void GetNow(GetMessage cmd, IActorRef replyTo)
    {
        if (_ready.Count == 0)
        {
            replyTo.Tell(new GetResult(_name, null, 0));
            return;
        }

        var m = _ready.PopFront();
        if (cmd.NoAck)
        {
            JournalRemove(m);
        }
        else
        {
            _unacked[m.Id] = new Unacked(m, replyTo, null);
            WatchChannel(replyTo);
        }

        replyTo.Tell(new GetResult(_name, m, (uint)_ready.Count));
    }

    private void OnSettle(Settle cmd)
    {
        bool requeued = false;
        List<long>? removed = null;
        foreach (var id in cmd.MessageIds)
        {
            // Only the channel holding a delivery settles it: a late return from a channel that
            // already went must not touch the message once it is held by another.
            if (!_unacked.TryGetValue(id, out var u) || !u.Channel.Equals(Sender))
            {
                continue;
            }

            _unacked.Remove(id);

            if (u.Consumer is { } c)
            {
                c.InFlight--;
            }

            if (cmd.Outcome == Settlement.Requeue)
            {
                u.Message.Redelivered = true;
                _ready.InsertById(u.Message);
                requeued = true;
            }
            else if (u.Message.Message.Persistent)
            {
                (removed ??= new List<long>()).Add(id);
            }
        }

        if (removed is not null)
        {
            JournalRemove(removed);
        }

        if (requeued || _consumers.Count > 0)
        {
            DeliverReady();
        }
    }

    private void DropChannel(IActorRef channel)
    {
        int removed = _consumers.RemoveAll(c => c.Channel.Equals(channel));
        _publishers.Remove(channel);
        ForgetDeferredCredit(channel);
        List<long>? ids = null;
        foreach (var (id, u) in _unacked)
        {
            if (u.Channel.Equals(channel))
            {
                (ids ??= new List<long>()).Add(id);
            }
        }

        if (ids is not null)
        {
            foreach (var id in ids)
            {
                _unacked.Remove(id, out var u);
                u.Message.Redelivered = true;
                _ready.InsertById(u.Message);
            }
        }

        if (removed > 0)
        {
            ReleaseDeferredCredit(0);
            DeleteIfUnused();
        }

        if (_definition is not null)
        {
            DeliverReady();
        }
    }

    private void DeleteIfUnused()
    {
        if (_definition is { AutoDelete: true } && _hadConsumers && _consumers.Count == 0)
        {
            _log.Info("Deleting auto-delete queue '{0}' in vhost '{1}': its last consumer went", _name, _vhost);
            Remove(ActorRefs.Nobody, 0);
        }
    }

    private void DeliverReady()
    {
        int before = _ready.Count;
        DeliverToConsumers();
        int delivered = before - _ready.Count;
        if (delivered > 0)
        {
            _consumersStalled = false;
            _deliveredSinceStallCheck += delivered;
        }

        ReleaseDeferredCredit(delivered);
    }

    private void DeliverToConsumers()
    {
        int n = _consumers.Count;
        if (n > 0 && _ready.Count > 0 && !LeaseValid)
        {
            RecheckLeaseSoon();
            return;
        }

        while (_ready.Count > 0 && n > 0)
        {
            if (!MayDeliver(_ready.PeekFront()))
            {
                RaiseWatermark(_ready.PeekFront().Id, DeliverReady);
                return;
            }

            Consumer? target = null;
            for (int tries = 0; tries < n; tries++)
            {
                var c = _consumers[_roundRobin++ % n];
                if (c.HasCredit)
                {
                    target = c;
                    break;
                }
            }

            if (target is null)
            {
                return;
            }

            var m = _ready.PopFront();
            if (target.NoAck)
            {
                JournalRemove(m);
            }
            else
            {
                _unacked[m.Id] = new Unacked(m, target.Channel, target);
                target.InFlight++;
            }

            target.Delivered++;
            PrepareWatermark(m.Id);
            target.Channel.Tell(new Deliver(_name, Self, target.Tag, m, target.NoAck));
        }
    }
}
