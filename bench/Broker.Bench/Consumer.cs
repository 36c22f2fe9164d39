using System.Buffers.Binary;
using System.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Broker.Bench;

/// <summary>One consuming channel. Deliveries of a channel are dispatched one at a time, so no locking is needed here.</summary>
internal sealed class Consumer
{
    private readonly int _id;
    private readonly Producer[] _producers;
    private readonly long[] _lastSeq;
    private readonly RunControl _ctl;
    private readonly BenchOptions _options;
    private readonly int _ackEvery;
    private int _sinceAck;
    private long _received;
    private IChannel? _channel;
    private string? _tag;

    public Consumer(int id, Producer[] producers, BenchOptions options, RunControl ctl)
    {
        _id = id;
        _producers = producers;
        _options = options;
        _ctl = ctl;
        _ackEvery = options.EffectiveAckEvery;
        _lastSeq = new long[producers.Length];
        Array.Fill(_lastSeq, -1L);
    }

    public LatencyHistogram Latency { get; } = new();
    public long Received => Volatile.Read(ref _received);
    public long Duplicates { get; private set; }
    public long OutOfOrder { get; private set; }
    public long Redelivered { get; private set; }
    public long Invalid { get; private set; }

    public async Task StartAsync(IChannel channel, string queue, CancellationToken ct)
    {
        _channel = channel;
        if (!_options.AutoAck)
        {
            await channel.BasicQosAsync(0, (ushort)_options.Prefetch, false, ct).ConfigureAwait(false);
        }
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += OnReceivedAsync;
        _tag = await channel.BasicConsumeAsync(queue, _options.AutoAck, consumer, ct).ConfigureAwait(false);
    }

    public async Task CancelAsync(CancellationToken ct)
    {
        if (_channel is { IsOpen: true } && _tag is not null)
        {
            await _channel.BasicCancelAsync(_tag, false, ct).ConfigureAwait(false);
        }
    }

    private Task OnReceivedAsync(object sender, BasicDeliverEventArgs ea)
    {
        long now = Stopwatch.GetTimestamp();
        ReadOnlySpan<byte> body = ea.Body.Span;
        if (body.Length < BenchOptions.HeaderSize)
        {
            Invalid++;
        }
        else
        {
            int pid = BinaryPrimitives.ReadInt32LittleEndian(body);
            long seq = BinaryPrimitives.ReadInt64LittleEndian(body[4..]);
            long sent = BinaryPrimitives.ReadInt64LittleEndian(body[12..]);
            if ((uint)pid >= (uint)_producers.Length || !SeqBitmap.InRange(seq))
            {
                Invalid++;
            }
            else
            {
                if (_ctl.Measuring)
                {
                    Latency.Record(Stopwatch.GetElapsedTime(sent, now).Ticks / TimeSpan.TicksPerMicrosecond);
                }
                if (_producers[pid].Received.Set(seq))
                {
                    _ctl.OnUnique();
                }
                else
                {
                    Duplicates++;
                }
                if (seq < _lastSeq[pid])
                {
                    OutOfOrder++;
                }
                else
                {
                    _lastSeq[pid] = seq;
                }
            }
        }
        if (ea.Redelivered)
        {
            Redelivered++;
        }
        Volatile.Write(ref _received, _received + 1);

        if (_ackEvery > 0 && ++_sinceAck >= _ackEvery)
        {
            _sinceAck = 0;
            ValueTask ack = _channel!.BasicAckAsync(ea.DeliveryTag, true, _ctl.Hard);
            return ack.IsCompletedSuccessfully ? Task.CompletedTask : AwaitAck(ack);
        }
        return Task.CompletedTask;
    }

    private async Task AwaitAck(ValueTask ack)
    {
        try
        {
            await ack.ConfigureAwait(false);
        }
        catch (Exception ex) when (!_ctl.TearingDown)
        {
            _ctl.ReportError($"consumer {_id}: ack failed: {ex.GetType().Name}: {ex.Message}");
        }
        catch (Exception)
        {
            // channel closing during teardown
        }
    }
}
