using RabbitMQ.Client;

namespace Broker.Bench;

/// <summary>
/// Keeps one soak client running until its phase ends: when the chaos loop kills the current
/// incarnation (or it fails), a new one connects after a random pause, as an application's
/// reconnect loop would.
/// </summary>
internal sealed class ClientSlot(Func<SoakClient> create, Func<ConnectionFactory> factory, Func<TimeSpan> restartDelay, SoakReport report)
{
    /// <summary>After a failure (not a kill) the replacement waits at least this long, so a broken broker is not hammered.</summary>
    private static readonly TimeSpan FailureBackoff = TimeSpan.FromSeconds(1);

    private volatile SoakClient? _current;

    /// <summary>The running incarnation, if it is connected.</summary>
    public SoakClient? Live => _current is { Live: true } c ? c : null;

    public async Task RunAsync(CancellationToken stop)
    {
        bool first = true;
        while (!stop.IsCancellationRequested)
        {
            if (!first)
            {
                report.OnReplacement();
            }
            first = false;
            SoakClient client = create();
            _current = client;
            SoakExit exit = await client.RunAsync(factory(), stop).ConfigureAwait(false);
            _current = null;
            if (exit == SoakExit.Stopped)
            {
                return;
            }
            TimeSpan pause = restartDelay();
            if (exit == SoakExit.Failed && pause < FailureBackoff)
            {
                pause = FailureBackoff;
            }
            try
            {
                await Task.Delay(pause, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
