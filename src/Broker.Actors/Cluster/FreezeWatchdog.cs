using System.Diagnostics;
using Akka.Actor;
using Akka.Event;

namespace Broker.Actors.Cluster;

/// <summary>
/// Stops this node's actor system when the node itself was frozen (SIGSTOP, a suspended VM, a
/// very long pause) for longer than the rest of the cluster needs to down it. Such a node wakes
/// up believing the others are the unreachable ones: its own split-brain resolver could down them
/// and go on serving as a cluster of one, while the majority has already moved its queues. It
/// cannot tell from inside whether it was removed, so it stops (the process exits with code 3 and
/// its supervisor starts it again as a new member). A timer that fires every 250 ms notices the
/// gap at once when the process resumes, before the resolver's stable-after (1.5 s) passes.
/// </summary>
public sealed class FreezeWatchdog : IDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);

    private readonly ActorSystem _system;
    private readonly TimeSpan _limit;
    private readonly ILoggingAdapter _log;
    private readonly Timer _timer;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastTickMs;
    private int _fired;

    /// <param name="limit">A gap longer than this (about when the others would have downed this node) stops it.</param>
    public FreezeWatchdog(ActorSystem system, TimeSpan limit)
    {
        _system = system;
        _limit = limit;
        _log = Logging.GetLogger(system, "freeze-watchdog");
        _timer = new Timer(_ => Check(), null, Tick, Tick);
    }

    private void Check()
    {
        long now = _clock.ElapsedMilliseconds;
        long gap = now - Interlocked.Exchange(ref _lastTickMs, now);
        if (gap > _limit.TotalMilliseconds && Interlocked.Exchange(ref _fired, 1) == 0)
        {
            _log.Error("This node was frozen for {0:F1} s, long enough for the cluster to have removed it: stopping so that it cannot " +
                       "serve (or down the others) on its own; it rejoins as a new member when restarted", gap / 1000.0);
            _system.Terminate();
        }
    }

    public void Dispose() => _timer.Dispose();
}
