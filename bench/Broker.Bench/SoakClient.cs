using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Broker.Bench;

/// <summary>How one incarnation of a soak client ended.</summary>
internal enum SoakExit
{
    /// <summary>The run (or its phase) ended and the client closed its connection cleanly.</summary>
    Stopped,

    /// <summary>The chaos loop killed its connection.</summary>
    Killed,

    /// <summary>Anything else: the broker closed it, a call failed or timed out (reported as it happened).</summary>
    Failed,
}

/// <summary>
/// One connection of the soak, from connect to its end. It is used once: a killed client is
/// replaced by a new one in the same <see cref="ClientSlot"/>.
/// </summary>
internal abstract class SoakClient(string name, SoakReport report)
{
    private readonly KillSwitch _switch = new();
    private readonly TaskCompletionSource _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _killed;
    private volatile bool _closing;

    public string Name => name;

    /// <summary>Connected and not yet ending: a kill now hits a working client.</summary>
    public bool Live { get; private set; }

    protected SoakReport Report => report;

    /// <summary>Completes when the connection or channel is gone, whoever ended it.</summary>
    protected Task Lost => _lost.Task;

    protected bool Killed => _killed;

    public void Kill(bool reset)
    {
        _killed = true;
        Live = false;
        _switch.Kill(reset);
    }

    public async Task<SoakExit> RunAsync(ConnectionFactory factory, CancellationToken stop)
    {
        IConnection? connection = null;
        try
        {
            connection = await _switch.Arm(factory).CreateConnectionAsync(name, stop).ConfigureAwait(false);
            connection.ConnectionShutdownAsync += (_, e) => OnShutdown("connection", e);
            Live = !_killed;
            await RunConnectedAsync(connection, stop).ConfigureAwait(false);
            Live = false;
            if (_killed)
            {
                return SoakExit.Killed;
            }
            if (_lost.Task.IsCompleted)
            {
                return SoakExit.Failed; // OnShutdown reported it
            }
            _closing = true;
            await connection.CloseAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            return SoakExit.Stopped;
        }
        catch (Exception) when (_killed)
        {
            return SoakExit.Killed;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // the phase ended while this client was still connecting or opening its channel
            return SoakExit.Stopped;
        }
        catch (Exception e)
        {
            // A connection or channel the broker closed was reported by OnShutdown; what fails after it is its echo.
            if (!_lost.Task.IsCompleted)
            {
                report.Error($"{name}: {e.GetType().Name}: {e.Message}");
            }
            return SoakExit.Failed;
        }
        finally
        {
            Live = false;
            _closing = true;
            if (connection is not null)
            {
                // After a kill or a failure the connection is closed already; Dispose only frees it.
                await DisposeQuietly(connection).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The client's work on an open connection; returns when stopped or throws when the connection is lost.</summary>
    protected abstract Task RunConnectedAsync(IConnection connection, CancellationToken stop);

    /// <summary>Ends this incarnation as failed (the caller reported why); the slot starts another.</summary>
    protected void Fail() => _lost.TrySetResult();

    /// <summary>Watches a channel: a close by the broker is an error unless this client was being killed or closed.</summary>
    protected void Watch(IChannel channel, string what) => channel.ChannelShutdownAsync += (_, e) => OnShutdown(what, e);

    private Task OnShutdown(string what, ShutdownEventArgs e)
    {
        if (!_killed && !_closing && e.Initiator != ShutdownInitiator.Application)
        {
            report.Error($"{name}: {what} closed by {e.Initiator}: {e.ReplyCode} {e.ReplyText}");
        }
        _lost.TrySetResult();
        return Task.CompletedTask;
    }

    private static async Task DisposeQuietly(IConnection connection)
    {
        try
        {
            await connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // a dead connection may fail to dispose cleanly; nothing to account for
        }
    }
}
