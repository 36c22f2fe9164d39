using System.Diagnostics;
using RabbitMQ.Client;

namespace Broker.Bench;

/// <summary>
/// `fill` mode: publishes exactly N persistent messages with confirms into one durable queue and
/// leaves them there, to measure restart (recovery) time, data size and memory with a given
/// backlog; with --transient, transient messages into a non-durable queue (memory only); with
/// --idle-queues K, also declares K empty durable queues (idle-1 .. idle-K) that recovery has to wake.
/// Usage: fill --uri URI --queue NAME --count N [--size 1024] [--transient] [--idle-queues K]
/// </summary>
internal static class Fill
{
    public static async Task<int> RunAsync(string[] args)
    {
        string uri = "amqp://guest:guest@127.0.0.1:5672/", queue = "fill-q";
        long count = 100_000;
        int size = 1024, idleQueues = 0;
        bool transient = args.Contains("--transient");
        args = args.Where(a => a != "--transient").ToArray();
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--uri": uri = args[i + 1]; break;
                case "--queue": queue = args[i + 1]; break;
                case "--count": count = long.Parse(args[i + 1]); break;
                case "--size": size = int.Parse(args[i + 1]); break;
                case "--idle-queues": idleQueues = int.Parse(args[i + 1]); break;
                default:
                    Console.Error.WriteLine($"fill: unknown option {args[i]}");
                    return 2;
            }
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(30));
        var factory = new ConnectionFactory { Uri = new Uri(uri), AutomaticRecoveryEnabled = false };
        await using var conn = await factory.CreateConnectionAsync(cts.Token);
        await using var ch = await conn.CreateChannelAsync(new CreateChannelOptions(true, true, outstandingPublisherConfirmationsRateLimiter: null), cts.Token);
        await ch.QueueDeclareAsync(queue, durable: !transient, exclusive: false, autoDelete: false, cancellationToken: cts.Token);
        var props = new BasicProperties { DeliveryMode = transient ? DeliveryModes.Transient : DeliveryModes.Persistent };
        var body = new byte[size];
        var window = new List<Task>(1000);
        var sw = Stopwatch.StartNew();
        for (long i = 0; i < count; i++)
        {
            window.Add(ch.BasicPublishAsync("", queue, true, props, body, cts.Token).AsTask());
            if (window.Count == 1000)
            {
                await Task.WhenAll(window);
                window.Clear();
            }
        }

        await Task.WhenAll(window);
        for (int q = 1; q <= idleQueues; q++)
        {
            await ch.QueueDeclareAsync($"idle-{q}", durable: true, exclusive: false, autoDelete: false, cancellationToken: cts.Token);
        }

        Console.WriteLine($"fill: {count} {(transient ? "transient" : "persistent")} messages of {size} B confirmed into '{queue}' in {sw.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
}
