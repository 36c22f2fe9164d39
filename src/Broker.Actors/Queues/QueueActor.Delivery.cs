using Akka.Actor;
using Akka.Event;
using Broker.Protocol;

namespace Broker.Actors.Queues;

/// <summary>Consumers, deliveries, basic.get, settlements and channels that go away: commands handed to the state.</summary>
public sealed partial class QueueActor
{
    /// <summary>basic.get requests waiting for a watermark write, answered once it is in the journal.</summary>
    private readonly List<(GetMessage Command, IActorRef ReplyTo)> _getsAfterWatermark = new();

    private uint ConsumerCount => (uint)(_state?.ConsumerCount ?? 0);

    /// <summary>
    /// The time for the state, and the lease as of this command: while this node's lease has
    /// lapsed the state hands nothing out (deliveries wait, basic.get finds nothing).
    /// </summary>
    private long Tick()
    {
        bool held = !LeaseValid;
        _state!.DeliveriesHeld = held;
        if (held && _state.ReadyCount > 0)
        {
            RecheckLeaseSoon();
        }

        return DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    }

    private void AddConsumer(AddConsumer cmd)
    {
        var consumer = new Consumer<IActorRef>(cmd.Tag, Sender, cmd.NoAck, cmd.Exclusive, cmd.Prefetch, cmd.Window, cmd.Priority);
        if (_state!.AddConsumer(consumer, $"queue '{_name}' in vhost '{_vhost}'") is { } refused)
        {
            Fail(refused);
            return;
        }

        WatchChannel(Sender);
        StopExpiryTimer();
        Sender.Tell(new ConsumerAdded(cmd.Tag));
        _state.DeliverReady(Tick());
    }

    private void RemoveConsumer(RemoveConsumer cmd)
    {
        _state?.RemoveConsumer(cmd.Tag, Sender, Tick());
        Sender.Tell(new ConsumerRemoved(cmd.Tag));
        ReleaseDeferredCredit(0);
        DeleteIfUnused();
        RestartExpiryTimer();
    }

    private void Get(GetMessage cmd) => GetNow(cmd, Sender);

    private void GetNow(GetMessage cmd, IActorRef replyTo)
    {
        if (_state is null)
        {
            replyTo.Tell(new GetResult(_name, null, 0));
            return;
        }

        var m = _state.Get(replyTo, cmd.NoAck, Tick(), out bool waitForWatermark);
        if (waitForWatermark)
        {
            // Answered once the watermark covering it is written (see DeliveryWatermark).
            _getsAfterWatermark.Add((cmd, replyTo));
            return;
        }

        if (m is not null && !cmd.NoAck)
        {
            WatchChannel(replyTo);
        }

        _stats.Counters.Increment(m is null ? Stats.MessageStat.GetEmpty : cmd.NoAck ? Stats.MessageStat.GetNoAck : Stats.MessageStat.Get);
        if (m is { Redelivered: true })
        {
            _stats.Counters.Increment(Stats.MessageStat.Redeliver);
        }

        RestartExpiryTimer();
        replyTo.Tell(new GetResult(_name, m, (uint)_state.ReadyCount));
    }

    private void OnSettle(Settle cmd)
    {
        if (cmd.Outcome == Settlement.Ack)
        {
            _stats.Counters.Values[(int)Stats.MessageStat.Ack] += cmd.MessageIds.Length;
        }

        _state?.Settle(Sender, cmd.MessageIds, cmd.Outcome, Tick());
    }

    private void OnDeliveryCredit(DeliveryCredit credit) => _state?.DeliveryCredit(credit.ConsumerTag, Sender, credit.Written, Tick());

    private void DropChannel(IActorRef channel)
    {
        _publishers.Remove(channel);
        ForgetDeferredCredit(channel);
        if (_state is null)
        {
            return;
        }

        if (_state.ChannelGone(channel, Tick()) > 0)
        {
            ReleaseDeferredCredit(0);
            DeleteIfUnused();
            RestartExpiryTimer();
        }
    }

    private void DeliverReady()
    {
        if (_state is not null)
        {
            _state.DeliverReady(Tick());
        }
    }

    private void DeleteIfUnused()
    {
        if (_definition is { AutoDelete: true } && _state is { HadConsumers: true, ConsumerCount: 0 })
        {
            _log.Info("Deleting auto-delete queue '{0}' in vhost '{1}': its last consumer went", _name, _vhost);
            Remove(ActorRefs.Nobody, 0);
        }
    }
}
