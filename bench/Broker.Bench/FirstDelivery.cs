using System.Diagnostics;
using System.Globalization;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Broker.Bench;

/// <summary>
/// `first` mode, for restart measurements: started together with a node, it tries to connect
/// every 20 ms until the listener accepts, then consumes one message from a queue (without
/// acking it, so it goes back) and prints, in seconds since --since (the node's start, Unix time),
/// when the connection opened and when the first message arrived. Gives up after --timeout.
/// Usage: first --uri URI --queue NAME --since UNIX_SECONDS [--timeout 120]
/// </summary>
internal static class FirstDelivery
{
    public static async Task<int> RunAsync(string[] args)
    {
        string uri = "amqp://guest:guest@127.0.0.1:5672/", queue = "fill-q";
        double since = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0, timeout = 120;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--uri": uri = args[i + 1]; break;
                case "--queue": queue = args[i + 1]; break;
                case "--since": since = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--timeout": timeout = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"first: unknown option {args[i]}");
                    return 2;
            }
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(timeout));
        double Elapsed() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 - since;
        var factory = new ConnectionFactory { Uri = new Uri(uri), AutomaticRecoveryEnabled = false, RequestedConnectionTimeout = TimeSpan.FromSeconds(30) };
        IConnection? conn = null;
        while (conn is null)
        {
            try
            {
                conn = await factory.CreateConnectionAsync(cts.Token);
            }
            catch (Exception) when (!cts.IsCancellationRequested)
            {
                await Task.Delay(20, cts.Token);
            }
        }

        double connected = Elapsed();
        await using (conn)
        {
            await using var ch = await conn.CreateChannelAsync(cancellationToken: cts.Token);
            await ch.BasicQosAsync(0, 1, false, cts.Token);
            var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var consumer = new AsyncEventingBasicConsumer(ch);
            consumer.ReceivedAsync += (_, _) =>
            {
                first.TrySetResult();
                return Task.CompletedTask;
            };
            await ch.BasicConsumeAsync(queue, autoAck: false, consumer, cts.Token);
            await first.Task.WaitAsync(cts.Token);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"first: connected {connected:F2} s, first delivery {Elapsed():F2} s"));
        }

        return 0;
    }
}
