using System.Diagnostics;
using Akka.Actor;
using Broker.Protocol;

namespace Broker.Actors.Channel;

/// <summary>A durable queue's node went and the queue has not recovered on another node yet.</summary>
internal sealed class QueueFailingOverException(string queue) : Exception($"queue '{queue}' is failing over")
{
    public string Queue { get; } = queue;
}

/// <summary>
/// A command for a durable queue that is failing over (its node died, or it is moving) waits for
/// the queue to be back instead of failing: a consumer cancelled by the move (one basic.cancel)
/// that consumes again gets consume-ok once the queue serves on its new node, not a channel error
/// per retry. Later commands of the channel wait behind it, in order. Past the wait, the command
/// fails as RabbitMQ's would (404, home node down or inaccessible).
/// </summary>
public sealed partial class ChannelActor
{
    /// <summary>How long a command waits for its queue: failover takes about a second after a crash, a few after a freeze.</summary>
    private static readonly TimeSpan FailoverWait = TimeSpan.FromSeconds(15);

    private static readonly TimeSpan FailoverRecheckInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>The command being handled (run again if its queue turns out to be failing over).</summary>
    private Command? _currentCommand;

    private Command? _parkedCommand;

    /// <summary>The last command parked: its wait counts from when it was first parked, however often it is retried.</summary>
    private Command? _parkedFirst;

    private string _parkedQueue = string.Empty;
    private long _parkedSince;

    /// <summary>Parks the command until its queue is available again; false once it has waited long enough.</summary>
    private bool ParkUntilAvailable(Command command, string queue)
    {
        if (!ReferenceEquals(command, _parkedFirst))
        {
            _parkedFirst = command;
            _parkedSince = Stopwatch.GetTimestamp();
        }

        if (_closed || Stopwatch.GetElapsedTime(_parkedSince) > FailoverWait)
        {
            return false;
        }

        _parkedCommand = command;
        _parkedQueue = queue;
        Timers.StartSingleTimer("failover", FailoverRecheck.Instance, FailoverRecheckInterval);
        _waiting = true;
        Become(Parked);
        return true;
    }

    /// <summary>A command waits for its queue: client commands wait behind it, everything else goes on.</summary>
    private void Parked()
    {
        Receive<ChannelCommands>(_ => Stash.Stash());
        ReceiveAsyncMessages();
        Receive<FailoverRecheck>(_ => RetryParked());
        // A late answer from the queue that went: its request was given up and runs again.
        ReceiveAny(_ => { });
    }

    private void RetryParked()
    {
        if (_parkedCommand is not { } command || _closed)
        {
            return;
        }

        if (_broker.Queues.Find(VHost, _parkedQueue) is { Available: false } &&
            Stopwatch.GetElapsedTime(_parkedSince) <= FailoverWait)
        {
            Timers.StartSingleTimer("failover", FailoverRecheck.Instance, FailoverRecheckInterval);
            return;
        }

        _parkedCommand = null;
        _waiting = false;
        Become(Active);
        OnCommand(command);

        if (!_waiting && !_closed)
        {
            DrainCommands();
            if (!_waiting && !_closed)
            {
                Stash.UnstashAll();
            }
        }
    }

    private sealed class FailoverRecheck : INoSerializationVerificationNeeded
    {
        public static readonly FailoverRecheck Instance = new();
    }
}
