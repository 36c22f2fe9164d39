using System.Net.Security;
using Akka;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Util;

namespace Broker.Actors.Transport;

/// <summary>
/// Runs a connection's flow over a TLS stream: reads become the flow's input, its output is
/// written (one write per coalesced batch, as on a plain socket). The stream is closed once the
/// output is done, which is when the connection actor stops (its outbound frames complete).
/// </summary>
public static class TlsConnectionStream
{
    private const int ReadBuffer = 64 * 1024;

    public static void Run(SslStream ssl, Flow<ByteString, ByteString, NotUsed> connection, IMaterializer materializer)
    {
        byte[] buffer = new byte[ReadBuffer];
        var reads = Source.UnfoldResourceAsync<ByteString, SslStream>(
            () => Task.FromResult(ssl),
            async stream =>
            {
                int n;
                try
                {
                    n = await stream.ReadAsync(buffer);
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException)
                {
                    // The peer reset the connection, or the write side closed the stream: the input ends.
                    n = 0;
                }

                return n == 0 ? Option<ByteString>.None : Option<ByteString>.Create(ByteString.CopyFrom(buffer, 0, n));
            },
            _ => Task.FromResult(Done.Instance));
        var writes = Sink.ForEachAsync<ByteString>(1, async bytes =>
        {
            await bytes.WriteToAsync(ssl);
            await ssl.FlushAsync();
        });
        var done = reads.Via(connection).RunWith(writes, materializer);
        done.ContinueWith(_ => ssl.Dispose(), TaskScheduler.Default);
    }
}
