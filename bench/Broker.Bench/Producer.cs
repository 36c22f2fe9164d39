using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Broker.Bench;

/// <summary>One publishing channel. Sequence numbers are 0,1,2,... in publish order.</summary>
internal sealed class Producer(int id, string queue, BenchOptions options, RunControl ctl)
{
    private long _published;
    private long _confirmed;
    private long _nacked;
    private long _failed;

    public int Id => id;
    public string Queue => queue;

    /// <summary>Sequence numbers the broker is accountable for: confirmed (with --confirms) or sent (without).</summary>
    public SeqBitmap Expected { get; } = new();

    /// <summary>Sequence numbers seen by any consumer.</summary>
    public SeqBitmap Received { get; } = new();

    public long Published => Volatile.Read(ref _published);
    public long Confirmed => Volatile.Read(ref _confirmed);
    public long Nacked => Volatile.Read(ref _nacked);
    public long Failed => Volatile.Read(ref _failed);

    /// <summary>Publish-to-confirm times in the measured window, and the longest one with the moment it ended.</summary>
    public ConfirmLatency ConfirmLatency { get; } = new();

    public async Task RunAsync(IChannel channel)
    {
        try
        {
            if (options.Confirms > 0)
            {
                await RunConfirmedAsync(channel).ConfigureAwait(false);
            }
            else
            {
                await RunPlainAsync(channel).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ctl.Abort.IsCancellationRequested)
        {
            // stop grace period or deadline expired: whatever is unconfirmed stays unconfirmed
        }
        catch (Exception ex)
        {
            ctl.ReportError($"producer {id}: {ex.GetType().Name}: {ex.Message}");
        }
    }

    private BasicProperties NewProperties()
    {
        var p = new BasicProperties { DeliveryMode = options.Persistent ? DeliveryModes.Persistent : DeliveryModes.Transient };
        if (options.Priority is { } priority)
        {
            p.Priority = priority;
        }

        return p;
    }

    private async Task RunPlainAsync(IChannel channel)
    {
        BasicProperties props = NewProperties();
        byte[] body = new byte[options.Size];
        CancellationToken stop = ctl.Stop.Token;
        CancellationToken abort = ctl.Abort.Token;
        long start = Stopwatch.GetTimestamp();
        long seq = 0;
        while (!stop.IsCancellationRequested)
        {
            if (options.Rate > 0 && !await PaceAsync(seq, start).ConfigureAwait(false))
            {
                break;
            }
            Fill(body, id, seq);
            // The client copies the body into its frame before this completes, so the buffer is reusable afterwards.
            await channel.BasicPublishAsync(string.Empty, queue, false, props, body, abort).ConfigureAwait(false);
            Expected.Set(seq);
            seq++;
            Volatile.Write(ref _published, seq);
        }
    }

    private async Task RunConfirmedAsync(IChannel channel)
    {
        BasicProperties props = NewProperties();
        var window = new SemaphoreSlim(options.Confirms, options.Confirms);
        var pool = new ConcurrentQueue<byte[]>();
        CancellationToken stop = ctl.Stop.Token;
        CancellationToken abort = ctl.Abort.Token;
        long start = Stopwatch.GetTimestamp();
        long seq = 0;
        while (!stop.IsCancellationRequested)
        {
            if (options.Rate > 0 && !await PaceAsync(seq, start).ConfigureAwait(false))
            {
                break;
            }
            await window.WaitAsync(abort).ConfigureAwait(false);
            if (!pool.TryDequeue(out byte[]? body))
            {
                body = new byte[options.Size];
            }
            Fill(body, id, seq);
            long sent = Stopwatch.GetTimestamp();
            ValueTask pending;
            try
            {
                // With confirmation tracking the returned task completes when the broker confirms (or nacks).
                pending = channel.BasicPublishAsync(string.Empty, queue, false, props, body, abort);
            }
            catch
            {
                window.Release();
                throw;
            }
            seq++;
            Volatile.Write(ref _published, seq);
            if (pending.IsCompletedSuccessfully)
            {
                pending.GetAwaiter().GetResult();
                OnConfirmed(seq - 1, sent);
                pool.Enqueue(body);
                window.Release();
            }
            else
            {
                _ = TrackConfirmAsync(pending, seq - 1, sent, body, window, pool);
            }
        }

        // Wait for every outstanding confirm: owning all permits means nothing is in flight.
        for (int i = 0; i < options.Confirms; i++)
        {
            await window.WaitAsync(abort).ConfigureAwait(false);
        }
    }

    private async Task TrackConfirmAsync(ValueTask pending, long seq, long sent, byte[] body, SemaphoreSlim window, ConcurrentQueue<byte[]> pool)
    {
        try
        {
            await pending.ConfigureAwait(false);
            OnConfirmed(seq, sent);
        }
        catch (PublishException)
        {
            Interlocked.Increment(ref _nacked);
        }
        catch (OperationCanceledException)
        {
            // abandoned at stop+grace: counted as unconfirmed
        }
        catch (Exception ex)
        {
            if (Interlocked.Increment(ref _failed) == 1)
            {
                ctl.ReportError($"producer {id}: publish failed: {ex.GetType().Name}: {ex.Message}");
            }
        }
        finally
        {
            pool.Enqueue(body);
            window.Release();
        }
    }

    private void OnConfirmed(long seq, long sent)
    {
        if (ctl.Measuring)
        {
            ConfirmLatency.Record(sent, Stopwatch.GetTimestamp());
        }

        Expected.Set(seq);
        Interlocked.Increment(ref _confirmed);
    }

    /// <summary>Waits until message <paramref name="seq"/> is due under --rate. Returns false if the run stopped meanwhile.</summary>
    private async ValueTask<bool> PaceAsync(long seq, long start)
    {
        long due = start + (long)(seq * (Stopwatch.Frequency / options.Rate));
        long ahead = due - Stopwatch.GetTimestamp();
        if (ahead > Stopwatch.Frequency / 1000)
        {
            try
            {
                await Task.Delay(Stopwatch.GetElapsedTime(0, ahead), ctl.Stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
        return true;
    }

    private static void Fill(Span<byte> body, int producerId, long seq)
    {
        BinaryPrimitives.WriteInt32LittleEndian(body, producerId);
        BinaryPrimitives.WriteInt64LittleEndian(body[4..], seq);
        BinaryPrimitives.WriteInt64LittleEndian(body[12..], Stopwatch.GetTimestamp());
    }
}
