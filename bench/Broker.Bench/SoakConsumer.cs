using System.Buffers.Binary;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Broker.Bench;

/// <summary>
/// One incarnation of a consumer slot: consumes its queue with manual acks (multiple=true every
/// --ack-every deliveries, and whatever is pending every 200 ms so that the tail of a run is acked
/// too). Messages count as consumed once their ack has been sent; those delivered but not yet
/// acked when the client is killed must come again. Each incarnation also declares an exclusive
/// queue, which the broker has to delete when the connection dies.
/// </summary>
internal sealed class SoakConsumer(int slot, string queue, SoakOptions o, SoakLedger ledger, SoakReport report)
    : SoakClient($"soak-consumer-{slot}", report)
{
    private static readonly TimeSpan FlushEvery = TimeSpan.FromMilliseconds(200);

    // Acks go out in delivery-tag order (an ack below one already sent would be an unknown tag):
    // the dispatcher and the flush timer take turns through this gate.
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<(int Slot, long Seq)> _pending = [];
    private ulong _lastTag;
    private IChannel? _channel;

    protected override async Task RunConnectedAsync(IConnection connection, CancellationToken stop)
    {
        IChannel channel = await connection.CreateChannelAsync(cancellationToken: stop).ConfigureAwait(false);
        Watch(channel, "channel");
        _channel = channel;
        await channel.BasicQosAsync(0, (ushort)o.Prefetch, false, stop).ConfigureAwait(false);
        await channel.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true, cancellationToken: stop).ConfigureAwait(false);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += OnReceivedAsync;
        // The soak never cancels its consumers (it closes connections): a cancel comes from the
        // broker (the queue went) and leaves this client idle, so it ends and a new one subscribes.
        consumer.UnregisteredAsync += (_, e) =>
        {
            if (!stop.IsCancellationRequested && !Killed && !Lost.IsCompleted)
            {
                Report.Error($"{Name}: the broker cancelled consumer {string.Join(",", e.ConsumerTags)}");
                Fail();
            }
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue, autoAck: false, consumer, stop).ConfigureAwait(false);

        using var timer = new PeriodicTimer(FlushEvery);
        try
        {
            while (!Lost.IsCompleted && await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                await FlushAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // the run's end: ack what is pending, then the connection closes (unacked deliveries go back)
            await FlushAsync().ConfigureAwait(false);
        }
    }

    private async Task OnReceivedAsync(object sender, BasicDeliverEventArgs ea)
    {
        ReadOnlySpan<byte> body = ea.Body.Span;
        bool valid = body.Length >= BenchOptions.HeaderSize;
        int from = valid ? BinaryPrimitives.ReadInt32LittleEndian(body) : -1;
        long seq = valid ? BinaryPrimitives.ReadInt64LittleEndian(body[4..]) : -1;
        valid = ledger.OnDelivered(from, seq, ea.Redelivered);

        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (valid)
            {
                _pending.Add((from, seq));
            }
            _lastTag = ea.DeliveryTag;
            if (_pending.Count >= o.AckEvery)
            {
                await AckLockedAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task FlushAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_lastTag != 0)
            {
                await AckLockedAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task AckLockedAsync()
    {
        ulong tag = _lastTag;
        _lastTag = 0;
        try
        {
            await _channel!.BasicAckAsync(tag, multiple: true).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The connection is gone (a kill, or a failure its shutdown reported): these deliveries
            // were not acked and the broker must deliver them again.
            _pending.Clear();
            return;
        }
        foreach ((int from, long seq) in _pending)
        {
            ledger.OnAcked(from, seq);
        }
        _pending.Clear();
    }
}
