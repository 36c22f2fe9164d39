using System.Globalization;
using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// A consumer that does what an application with a retry loop does in a cluster: when the broker
/// cancels it (basic.cancel: the queue moved or its node went) or its channel closes (404 while
/// the queue is failing over), it subscribes again on a fresh channel of the same connection, until
/// disposed. Bodies are sequence numbers; every delivery is recorded and acked.
/// </summary>
public sealed class ResilientConsumer : IAsyncDisposable
{
    private readonly IConnection _connection;
    private readonly string _queue;
    private readonly ushort _prefetch;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _lock = new();
    private readonly List<(long Seq, bool Redelivered)> _deliveries = new();
    private readonly Task _loop;
    private TaskCompletionSource _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ResilientConsumer(IConnection connection, string queue, ushort prefetch = 200)
    {
        _connection = connection;
        _queue = queue;
        _prefetch = prefetch;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>How often it had to subscribe again.</summary>
    public int Resubscriptions { get; private set; }

    /// <summary>basic.cancel from the broker (the queue went, or moved).</summary>
    public int Cancellations => Volatile.Read(ref _cancellations);

    /// <summary>Channels the broker closed with an error (a 404 for a consume, say).</summary>
    public int ChannelErrors => Volatile.Read(ref _channelErrors);

    private int _cancellations;
    private int _channelErrors;

    public List<(long Seq, bool Redelivered)> Deliveries
    {
        get
        {
            lock (_lock)
            {
                return _deliveries.ToList();
            }
        }
    }

    public HashSet<long> Seen
    {
        get
        {
            lock (_lock)
            {
                return _deliveries.Select(d => d.Seq).ToHashSet();
            }
        }
    }

    private async Task RunAsync()
    {
        bool first = true;
        while (!_stop.IsCancellationRequested && _connection.IsOpen)
        {
            _lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            IChannel? ch = null;
            try
            {
                ch = await _connection.CreateChannelAsync();
                await ch.BasicQosAsync(0, _prefetch, false);
                var consumer = new AsyncEventingBasicConsumer(ch);
                var channel = ch;
                consumer.ReceivedAsync += async (_, ea) =>
                {
                    long seq = long.Parse(Encoding.ASCII.GetString(ea.Body.Span), CultureInfo.InvariantCulture);
                    lock (_lock)
                    {
                        _deliveries.Add((seq, ea.Redelivered));
                    }

                    try
                    {
                        await channel.BasicAckAsync(ea.DeliveryTag, false);
                    }
                    catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException)
                    {
                        // The channel went; the message comes again, redelivered.
                    }
                };
                consumer.UnregisteredAsync += (_, _) =>
                {
                    if (!_stop.IsCancellationRequested)
                    {
                        Interlocked.Increment(ref _cancellations);
                    }

                    _lost.TrySetResult();
                    return Task.CompletedTask;
                };
                ch.ChannelShutdownAsync += (_, e) =>
                {
                    if (e.Initiator == ShutdownInitiator.Peer && e.ReplyCode != Constants.ReplySuccess && _connection.IsOpen)
                    {
                        Interlocked.Increment(ref _channelErrors);
                    }

                    _lost.TrySetResult();
                    return Task.CompletedTask;
                };
                await ch.BasicConsumeAsync(_queue, autoAck: false, consumer);
                if (!first)
                {
                    Resubscriptions++;
                }

                first = false;
                await _lost.Task.WaitAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (Exception e) when (e is OperationInterruptedException or AlreadyClosedException or TimeoutException)
            {
                // 404 while the queue fails over, or the channel closed: try again shortly.
            }
            finally
            {
                if (ch is not null)
                {
                    try
                    {
                        await ch.DisposeAsync();
                    }
                    catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException or TimeoutException)
                    {
                        // Already gone.
                    }
                }
            }

            try
            {
                await Task.Delay(200, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            // It ends with the connection.
        }
    }
}
