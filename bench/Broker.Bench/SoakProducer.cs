using System.Buffers.Binary;
using System.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Broker.Bench;

/// <summary>
/// One incarnation of a producer slot: publishes at a fixed rate to its queue with confirms (at
/// most --confirms in flight), persistent to a durable queue, transient to the others. Bodies
/// carry the bench's header (slot, sequence number, timestamp) and a random length.
/// </summary>
internal sealed class SoakProducer(int slot, string queue, bool persistent, SoakOptions o, SoakLedger ledger, int seed, SoakReport report)
    : SoakClient($"soak-producer-{slot}", report)
{
    /// <summary>After the run, how long outstanding confirms may take before the connection is closed anyway.</summary>
    private static readonly TimeSpan ConfirmGrace = TimeSpan.FromSeconds(10);

    protected override async Task RunConnectedAsync(IConnection connection, CancellationToken stop)
    {
        IChannel channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true,
                outstandingPublisherConfirmationsRateLimiter: null), // the window below bounds what is in flight
            stop).ConfigureAwait(false);
        Watch(channel, "channel");
        var props = new BasicProperties { DeliveryMode = persistent ? DeliveryModes.Persistent : DeliveryModes.Transient };
        var random = new Random(seed);
        var window = new SemaphoreSlim(o.Confirms, o.Confirms);
        long start = Stopwatch.GetTimestamp();
        long sent = 0;
        // Publishes and confirm waits give up only a grace period after the run's end (so the last
        // confirms still count), never hanging on a broker that stopped reading.
        using var abort = new CancellationTokenSource();
        await using CancellationTokenRegistration atStop = stop.Register(() => abort.CancelAfter(ConfirmGrace));
        try
        {
            while (!stop.IsCancellationRequested && !Lost.IsCompleted)
            {
                await PaceAsync(start, sent, stop).ConfigureAwait(false);
                await window.WaitAsync(stop).ConfigureAwait(false);
                long seq = ledger.NextSeq(slot);
                byte[] body = new byte[random.Next(BenchOptions.HeaderSize, o.Size + 1)];
                BinaryPrimitives.WriteInt32LittleEndian(body, slot);
                BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(4), seq);
                BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(12), Stopwatch.GetTimestamp());
                ValueTask confirm;
                try
                {
                    // With confirmation tracking this completes when the broker confirms (or nacks) the message.
                    confirm = channel.BasicPublishAsync(string.Empty, queue, false, props, body, abort.Token);
                }
                catch
                {
                    window.Release();
                    throw;
                }
                ledger.OnPublished();
                sent++;
                _ = TrackAsync(confirm, seq, window);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // the run's end: wait for the confirms below
        }

        if (Lost.IsCompleted)
        {
            return; // killed, or a failure its shutdown reported
        }

        // Every permit back means nothing is in flight; confirms missing after the grace stay unconfirmed.
        for (int i = 0; i < o.Confirms; i++)
        {
            try
            {
                await window.WaitAsync(abort.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Report.Error($"{Name}: confirms still outstanding {ConfirmGrace.TotalSeconds:0} s after the run");
                break;
            }
        }
    }

    private async Task TrackAsync(ValueTask confirm, long seq, SemaphoreSlim window)
    {
        try
        {
            await confirm.ConfigureAwait(false);
            ledger.OnConfirmed(slot, seq);
        }
        catch (PublishException)
        {
            // A healthy broker nacks only when its journal write failed: counted, and the run fails.
            ledger.OnNacked();
        }
        catch (Exception)
        {
            // The connection went (a kill, or a failure reported by its shutdown), or the run ended:
            // the message stays unconfirmed and need not arrive.
        }
        finally
        {
            window.Release();
        }
    }

    /// <summary>Waits until message number <paramref name="sent"/> of this incarnation is due at --rate.</summary>
    private async Task PaceAsync(long start, long sent, CancellationToken stop)
    {
        long due = start + (long)(sent * (Stopwatch.Frequency / o.Rate));
        long ahead = due - Stopwatch.GetTimestamp();
        if (ahead > Stopwatch.Frequency / 1000)
        {
            await Task.Delay(Stopwatch.GetElapsedTime(0, ahead), stop).ConfigureAwait(false);
        }
    }
}
