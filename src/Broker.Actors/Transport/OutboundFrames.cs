using System.Threading.Channels;
using Akka;
using Akka.IO;
using Akka.Streams.Dsl;

namespace Broker.Actors.Transport;

/// <summary>
/// The write side of one connection. Connection and channel actors hand it encoded frames from
/// any thread; the stream drains them and coalesces whatever is ready into one socket write.
/// PendingBytes counts what is queued but not yet taken by the socket, so producers of output
/// (queues delivering to a slow consumer) can be held back.
/// </summary>
public sealed class OutboundFrames
{
    /// <summary>Frames coalesced into one write at most; bounded so one write stays near 1 MiB.</summary>
    private const int MaxFramesPerWrite = 256;

    private readonly Channel<ByteString> _channel =
        System.Threading.Channels.Channel.CreateUnbounded<ByteString>(new UnboundedChannelOptions { SingleReader = true });

    private long _pendingBytes;

    /// <summary>Counts the bytes and writes sent (send_oct, send_cnt), if given.</summary>
    public Stats.ConnectionStats? Stats { get; init; }

    public long PendingBytes => Interlocked.Read(ref _pendingBytes);

    /// <summary>Queues bytes for the socket; the array must not be changed afterwards.</summary>
    public void Write(byte[] frames)
    {
        if (frames.Length == 0)
        {
            return;
        }

        Interlocked.Add(ref _pendingBytes, frames.Length);
        if (!_channel.Writer.TryWrite(ByteString.FromBytes(frames)))
        {
            Interlocked.Add(ref _pendingBytes, -frames.Length);
        }
    }

    /// <summary>Flushes what is queued, then closes the socket's write side (and so the connection).</summary>
    public void Complete() => _channel.Writer.TryComplete();

    public Source<ByteString, NotUsed> AsSource() =>
        ChannelSource.FromReader(_channel.Reader)
            .Batch(MaxFramesPerWrite, first => first, (acc, next) => acc.Concat(next))
            .Select(batch =>
            {
                Interlocked.Add(ref _pendingBytes, -batch.Count);
                if (Stats is { } stats)
                {
                    stats.SentBytes += batch.Count;
                    stats.SentWrites++;
                }

                return batch.IsCompact ? batch : batch.Compact();
            });
}
