using System.Diagnostics;
using System.Globalization;
using System.Text;
using RabbitMQ.Client;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// Publishes persistent messages 0, 1, 2, ... with publisher confirms and a bounded number in
/// flight, round-robin over some queues, until stopped (or a bound of time). Records which were
/// confirmed and which were nacked or failed; a nack is allowed (the publisher would retry), a
/// confirmed message must never be lost. Nacks do not stop it, and it pauses briefly after one so
/// a queue that is failing over is not hammered.
/// </summary>
public sealed class ConfirmingPublisher : IAsyncDisposable
{
    private readonly IChannel _channel;
    private readonly IReadOnlyList<string> _queues;
    private readonly int _window;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _lock = new();
    private readonly Dictionary<long, string> _confirmed = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<TimeSpan> _confirmTimes = new();
    private readonly Task _loop;
    private readonly long _firstSeq;
    private int _failed;

    /// <summary>After a nack the publisher pauses briefly, as an application retrying would, instead of spinning.</summary>
    private long _pauseUntil;

    /// <param name="firstSeq">The first body: publishers that share a consumer number their messages apart.</param>
    public ConfirmingPublisher(IChannel channel, IReadOnlyList<string> queues, int window = 100, TimeSpan? maxDuration = null, long firstSeq = 0)
    {
        _firstSeq = firstSeq;
        _channel = channel;
        _queues = queues;
        _window = window;
        _stop.CancelAfter(maxDuration ?? TimeSpan.FromSeconds(120));
        _loop = Task.Run(RunAsync);
    }

    public int Failed => Volatile.Read(ref _failed);

    /// <summary>Confirmed sequence numbers and the queue each went to.</summary>
    public Dictionary<long, string> Confirmed
    {
        get
        {
            lock (_lock)
            {
                return new Dictionary<long, string>(_confirmed);
            }
        }
    }

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>The first confirm at or after <paramref name="since"/> (on this publisher's clock), if any.</summary>
    public TimeSpan? FirstConfirmAfter(TimeSpan since)
    {
        lock (_lock)
        {
            foreach (var t in _confirmTimes)
            {
                if (t >= since)
                {
                    return t;
                }
            }

            return null;
        }
    }

    private async Task RunAsync()
    {
        using var window = new SemaphoreSlim(_window);
        var outstanding = new List<Task>();
        var props = new BasicProperties { DeliveryMode = DeliveryModes.Persistent };
        try
        {
            for (long seq = _firstSeq; !_stop.IsCancellationRequested && _channel.IsOpen; seq++)
            {
                await window.WaitAsync(_stop.Token);
                long pause = Volatile.Read(ref _pauseUntil) - Environment.TickCount64;
                if (pause > 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(pause), _stop.Token);
                }

                long s = seq;
                string queue = _queues[(int)(seq % _queues.Count)];
                var body = Encoding.ASCII.GetBytes(s.ToString(CultureInfo.InvariantCulture));
                Task t;
                try
                {
                    t = _channel.BasicPublishAsync("", queue, false, props, body).AsTask();
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref _failed);
                    window.Release();
                    break;
                }

                outstanding.Add(t.ContinueWith(done =>
                {
                    if (done.IsCompletedSuccessfully)
                    {
                        lock (_lock)
                        {
                            _confirmed[s] = queue;
                            _confirmTimes.Add(_clock.Elapsed);
                        }
                    }
                    else
                    {
                        Interlocked.Increment(ref _failed);
                        Volatile.Write(ref _pauseUntil, Environment.TickCount64 + 50);
                    }

                    window.Release();
                }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
                if (outstanding.Count > 4 * _window)
                {
                    outstanding.RemoveAll(x => x.IsCompleted);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }

        await Task.WhenAll(outstanding).WaitAsync(TimeSpan.FromSeconds(60));
    }

    public async Task StopAsync()
    {
        _stop.Cancel();
        await _loop;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            await _loop;
        }
        catch (TimeoutException)
        {
            // Best effort.
        }
    }
}
