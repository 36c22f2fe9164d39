using System.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Broker.Bench;

/// <summary>
/// `drain` mode: one consumer takes every message of a queue (manual acks, multiple=true every 100)
/// and reports how fast, to compare draining a deep (paged) backlog with a short queue.
/// Usage: drain --uri URI --queue NAME [--prefetch 1000]
/// </summary>
internal static class Drain
{
    public static async Task<int> RunAsync(string[] args)
    {
        string uri = "amqp://guest:guest@127.0.0.1:5672/", queue = "fill-q";
        ushort prefetch = 1000;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--uri": uri = args[i + 1]; break;
                case "--queue": queue = args[i + 1]; break;
                case "--prefetch": prefetch = ushort.Parse(args[i + 1]); break;
                default:
                    Console.Error.WriteLine($"drain: unknown option {args[i]}");
                    return 2;
            }
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(30));
        var factory = new ConnectionFactory { Uri = new Uri(uri), AutomaticRecoveryEnabled = false };
        await using var conn = await factory.CreateConnectionAsync(cts.Token);
        await using var ch = await conn.CreateChannelAsync(cancellationToken: cts.Token);
        long total;
        try
        {
            total = (await ch.QueueDeclarePassiveAsync(queue, cts.Token)).MessageCount;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException e)
        {
            Console.Error.WriteLine($"drain: queue '{queue}': {e.ShutdownReason?.ReplyText ?? e.Message}");
            return 1;
        }

        if (total == 0)
        {
            Console.Error.WriteLine($"drain: queue '{queue}' is empty");
            return 1;
        }

        await ch.BasicQosAsync(0, prefetch, false, cts.Token);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long received = 0;
        var sw = new Stopwatch();
        var consumer = new AsyncEventingBasicConsumer(ch);
        consumer.ReceivedAsync += async (_, ea) =>
        {
            long n = ++received;
            if (n % 100 == 0 || n == total)
            {
                await ch.BasicAckAsync(ea.DeliveryTag, multiple: true);
            }

            if (n == total)
            {
                done.TrySetResult();
            }
        };
        sw.Start();
        await ch.BasicConsumeAsync(queue, autoAck: false, consumer, cts.Token);
        await done.Task.WaitAsync(cts.Token);
        sw.Stop();
        Console.WriteLine($"drain: {total} messages from '{queue}' in {sw.Elapsed.TotalSeconds:F2} s: {total / sw.Elapsed.TotalSeconds:F0} msg/s");
        return 0;
    }
}
