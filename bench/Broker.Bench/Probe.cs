using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Broker.Bench;

/// <summary>
/// `probe` mode, for failover measurements: publishes one persistent message with a confirm every
/// interval to a durable queue through one node and consumes it through another, re-subscribing
/// (and reconnecting) whenever the broker cancels the consumer or closes the channel, as an
/// application with a retry loop does. Runs for a fixed time (a node is killed meanwhile by the
/// caller) and prints one JSON line: the longest gap between two confirmed publishes, between two
/// deliveries, when each gap started (seconds since the probe started), and the confirmed messages
/// that never arrived.
/// A publish counts as working when its confirm arrives within --timeout-ms, so the gaps are
/// measured to about that resolution. With --queue-type (e.g. quorum) the probe declares the
/// queue first with that x-queue-type.
/// Usage: probe --uri URI --consumer-uri URI --queue NAME [--duration 40] [--interval-ms 20]
///        [--timeout-ms 2000] [--queue-type quorum]
/// </summary>
internal static class Probe
{
    public static async Task<int> RunAsync(string[] args)
    {
        string uri = "amqp://guest:guest@127.0.0.1:5672/", consumerUri = uri, queue = "probe-q";
        double duration = 40;
        int intervalMs = 20, timeoutMs = 2000;
        string? queueType = null;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--uri": uri = args[i + 1]; break;
                case "--consumer-uri": consumerUri = args[i + 1]; break;
                case "--queue": queue = args[i + 1]; break;
                case "--duration": duration = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--interval-ms": intervalMs = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--timeout-ms": timeoutMs = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--queue-type": queueType = args[i + 1]; break;
                default:
                    Console.Error.WriteLine($"probe: unknown option {args[i]}");
                    return 2;
            }
        }

        if (queueType is not null)
        {
            await using var declareConnection = await Factory(uri).CreateConnectionAsync();
            await using var declare = await declareConnection.CreateChannelAsync();
            await declare.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                new Dictionary<string, object?> { ["x-queue-type"] = queueType });
        }

        var clock = Stopwatch.StartNew();
        var end = TimeSpan.FromSeconds(duration);
        var confirms = new List<(double At, long Seq)>();
        var deliveries = new List<(double At, long Seq)>();
        using var stop = new CancellationTokenSource(end);
        var consumer = Task.Run(() => ConsumeAsync(consumerUri, queue, clock, deliveries, stop.Token));
        await PublishAsync(uri, queue, intervalMs, TimeSpan.FromMilliseconds(timeoutMs), clock, confirms, stop.Token);
        // A queue that never came back shows as a gap up to the end of publishing, not as no gap.
        double publishingEnded = clock.Elapsed.TotalSeconds;
        // Let the last confirmed messages arrive.
        await Task.Delay(TimeSpan.FromSeconds(2));
        await consumer.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });

        (double Gap, double From) Longest(List<(double At, long Seq)> events)
        {
            lock (events)
            {
                var times = events.Select(e => e.At).Append(publishingEnded).OrderBy(t => t).ToList();
                (double Gap, double From) best = (0, 0);
                for (int i = 1; i < times.Count; i++)
                {
                    if (times[i] - times[i - 1] > best.Gap)
                    {
                        best = (times[i] - times[i - 1], times[i - 1]);
                    }
                }

                return best;
            }
        }

        var confirmGap = Longest(confirms);
        var deliveryGap = Longest(deliveries);
        HashSet<long> seen;
        lock (deliveries)
        {
            seen = deliveries.Select(d => d.Seq).ToHashSet();
        }

        long lost;
        lock (confirms)
        {
            lost = confirms.Count(c => !seen.Contains(c.Seq));
        }

        Console.WriteLine(JsonSerializer.Serialize(new
        {
            confirmed = confirms.Count,
            delivered = deliveries.Count,
            lostConfirmed = lost,
            maxConfirmGapS = Math.Round(confirmGap.Gap, 3),
            confirmGapFromS = Math.Round(confirmGap.From, 3),
            maxDeliveryGapS = Math.Round(deliveryGap.Gap, 3),
            deliveryGapFromS = Math.Round(deliveryGap.From, 3),
        }));
        return lost == 0 ? 0 : 1;
    }

    private static ConnectionFactory Factory(string uri) => new()
    {
        Uri = new Uri(uri),
        AutomaticRecoveryEnabled = false,
        TopologyRecoveryEnabled = false,
        RequestedConnectionTimeout = TimeSpan.FromSeconds(2),
        ContinuationTimeout = TimeSpan.FromSeconds(2),
    };

    private static async Task PublishAsync(string uri, string queue, int intervalMs, TimeSpan confirmTimeout, Stopwatch clock,
        List<(double, long)> confirms, CancellationToken stop)
    {
        var props = new BasicProperties { DeliveryMode = DeliveryModes.Persistent };
        // Opening a connection or channel on a node that is failing may hang: give up and open another.
        var openLimit = TimeSpan.FromSeconds(2);
        IConnection? conn = null;
        IChannel? ch = null;
        long seq = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                conn ??= await Factory(uri).CreateConnectionAsync(stop).WaitAsync(openLimit, stop);
                ch ??= await conn.CreateChannelAsync(new CreateChannelOptions(true, true), stop).WaitAsync(openLimit, stop);
                long s = seq++;
                // The client's own cancellation of a confirm wait is not relied on: a publish whose
                // confirm does not come in time is left behind, with its channel.
                var publish = ch.BasicPublishAsync("", queue, false, props, Encoding.ASCII.GetBytes(s.ToString(CultureInfo.InvariantCulture)),
                    stop).AsTask();
                if (await Task.WhenAny(publish, Task.Delay(confirmTimeout, stop)) == publish && publish.IsCompletedSuccessfully)
                {
                    lock (confirms)
                    {
                        confirms.Add((clock.Elapsed.TotalSeconds, s));
                    }
                }
                else
                {
                    _ = publish.ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
                    // Nacked (the queue is failing over): the channel is fine. Otherwise use a fresh one.
                    if (!(publish.IsFaulted && publish.Exception!.GetBaseException() is PublishException))
                    {
                        Abandon(ref ch);
                    }
                }
            }
            catch (Exception e) when (e is OperationInterruptedException or AlreadyClosedException or BrokerUnreachableException
                                          or OperationCanceledException or TimeoutException)
            {
                Abandon(ref ch);
                if (conn is not { IsOpen: true } || e is TimeoutException)
                {
                    var stale = conn;
                    conn = null;
                    _ = stale?.CloseAsync().ContinueWith(_ => { });
                }
            }

            try
            {
                await Task.Delay(intervalMs, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        if (conn is not null)
        {
            await conn.CloseAsync().ContinueWith(_ => { });
        }
    }

    private static void Abandon(ref IChannel? channel)
    {
        var stale = channel;
        channel = null;
        _ = stale?.CloseAsync().ContinueWith(_ => { });
    }

    private static async Task ConsumeAsync(string uri, string queue, Stopwatch clock, List<(double, long)> deliveries, CancellationToken stop)
    {
        IConnection? conn = null;
        // Consumes until the publisher stopped and a little longer.
        var until = CancellationTokenSource.CreateLinkedTokenSource(CancellationToken.None);
        stop.Register(() => until.CancelAfter(TimeSpan.FromSeconds(2)));
        while (!until.IsCancellationRequested)
        {
            try
            {
                conn ??= await Factory(uri).CreateConnectionAsync(until.Token);
                var ch = await conn.CreateChannelAsync(cancellationToken: until.Token);
                var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var consumer = new AsyncEventingBasicConsumer(ch);
                consumer.ReceivedAsync += (_, ea) =>
                {
                    long s = long.Parse(Encoding.ASCII.GetString(ea.Body.Span), CultureInfo.InvariantCulture);
                    lock (deliveries)
                    {
                        deliveries.Add((clock.Elapsed.TotalSeconds, s));
                    }

                    return Task.CompletedTask;
                };
                consumer.UnregisteredAsync += (_, _) =>
                {
                    lost.TrySetResult();
                    return Task.CompletedTask;
                };
                ch.ChannelShutdownAsync += (_, _) =>
                {
                    lost.TrySetResult();
                    return Task.CompletedTask;
                };
                await ch.BasicConsumeAsync(queue, autoAck: true, consumer, until.Token);
                await lost.Task.WaitAsync(until.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (Exception e) when (e is OperationInterruptedException or AlreadyClosedException or BrokerUnreachableException
                                          or TimeoutException)
            {
                if (conn is { IsOpen: false })
                {
                    conn = null;
                }
            }

            try
            {
                await Task.Delay(50, until.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        if (conn is not null)
        {
            await conn.CloseAsync().ContinueWith(_ => { });
        }
    }
}
