namespace Broker.Bench;

/// <summary>Signals shared by producers, consumers and the orchestrator.</summary>
internal sealed class RunControl : IDisposable
{
    private long _unique;
    private long _target = long.MaxValue;
    private int _tearingDown;

    public RunControl(CancellationToken hard)
    {
        Hard = hard;
        Abort = CancellationTokenSource.CreateLinkedTokenSource(hard);
    }

    /// <summary>Cancelled at the run's internal deadline (a little before the watchdog kills the process).</summary>
    public CancellationToken Hard { get; }

    /// <summary>Producers stop starting new publishes when this is cancelled.</summary>
    public CancellationTokenSource Stop { get; } = new();

    /// <summary>In-flight publishes and confirm waits give up when this is cancelled (stop + grace, or the deadline).</summary>
    public CancellationTokenSource Abort { get; }

    /// <summary>Completed when consumers have seen <see cref="SetDrainTarget"/> distinct messages.</summary>
    public TaskCompletionSource Drained { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>True during the measured window: only then are latencies recorded.</summary>
    public volatile bool Measuring;

    public bool TearingDown => Volatile.Read(ref _tearingDown) != 0;

    public void BeginTeardown() => Volatile.Write(ref _tearingDown, 1);

    private readonly List<string> _errors = [];

    public void ReportError(string message)
    {
        lock (_errors)
        {
            if (_errors.Count < 50)
            {
                _errors.Add(message);
            }
        }
    }

    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (_errors)
            {
                return [.. _errors];
            }
        }
    }

    public long Unique => Volatile.Read(ref _unique);

    public void OnUnique()
    {
        if (Interlocked.Increment(ref _unique) >= Volatile.Read(ref _target))
        {
            Drained.TrySetResult();
        }
    }

    public void SetDrainTarget(long target)
    {
        Volatile.Write(ref _target, target);
        if (Volatile.Read(ref _unique) >= target)
        {
            Drained.TrySetResult();
        }
    }

    public void Dispose()
    {
        Stop.Dispose();
        Abort.Dispose();
    }
}
