using System.Buffers;
using Akka;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;

namespace Broker.Actors.Transport;

/// <summary>
/// A client's byte stream as a stage: a socket's NetworkStream (amqp) or the SslStream over one
/// (amqps). What it reads comes out (Out), what comes in (In) it writes; <see cref="Run"/> joins it
/// to a connection's flow. It reads only when the flow pulls, which it does once the
/// ConnectionActor acknowledged the previous batch, so a connection that withholds its ack (flow
/// control, a resource alarm) leaves the socket unread and TCP pushes back on the publisher. Each
/// element that comes in (the frames that queued up meanwhile, coalesced) is one write. Once the
/// flow's output completes, which is when the connection actor stops, the last write goes out and
/// the stream is closed; that also ends a read still waiting.
/// A stage of its own rather than Source.UnfoldResourceAsync and Sink.ForEachAsync: those run on
/// Akka's blocking-IO dispatcher, behind an asynchronous boundary (a second actor per connection
/// and a hop per read), and each completed write would be one more message; here a read or write
/// the stream completes at once goes on without any.
/// </summary>
public sealed class ConnectionStream : GraphStage<FlowShape<ByteString, ByteString>>
{
    /// <summary>
    /// One read takes whatever has arrived, up to this: a burst of publishes is decoded and
    /// acknowledged as one batch (one ack per read is the connection's main per-read cost).
    /// </summary>
    private const int ReadBuffer = 64 * 1024;

    private readonly Stream _stream;

    private ConnectionStream(Stream stream)
    {
        _stream = stream;
        Shape = new FlowShape<ByteString, ByteString>(In, Out);
    }

    /// <summary>Bytes to write.</summary>
    public Inlet<ByteString> In { get; } = new("connection.write");

    /// <summary>Bytes read.</summary>
    public Outlet<ByteString> Out { get; } = new("connection.read");

    public override FlowShape<ByteString, ByteString> Shape { get; }

    /// <summary>Runs <paramref name="connection"/> over <paramref name="stream"/>, which it owns from now on.</summary>
    public static void Run(Stream stream, Flow<ByteString, ByteString, NotUsed> connection, IMaterializer materializer) =>
        Flow.FromGraph(new ConnectionStream(stream)).Join(connection).Run(materializer);

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    /// <summary>
    /// The next bytes of the stream, or null at its end. It first waits for data with a zero-byte
    /// read and only then takes a buffer from the pool, for just as long as the read: an idle
    /// connection (most of them, on a busy node) holds no buffer. The bytes are copied out, since
    /// the flow may keep them.
    /// </summary>
    private static async Task<ByteString?> ReadAsync(Stream stream)
    {
        _ = await stream.ReadAsync(Memory<byte>.Empty); // returns 0 once data is there
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ReadBuffer);
        try
        {
            int n = await stream.ReadAsync(buffer.AsMemory(0, ReadBuffer));
            return n == 0 ? null : ByteString.CopyFrom(buffer, 0, n);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task WriteAsync(Stream stream, ByteString bytes)
    {
        await bytes.WriteToAsync(stream);
        await stream.FlushAsync();
    }

    private sealed class Logic : InAndOutGraphStageLogic
    {
        private readonly ConnectionStream _stage;
        private readonly Stream _stream;
        private Action<Task<ByteString?>>? _readDone;
        private Action<Task>? _writeDone;
        private volatile bool _stopped;
        private bool _writing;

        public Logic(ConnectionStream stage) : base(stage.Shape)
        {
            _stage = stage;
            _stream = stage._stream;
            SetHandler(stage.In, this);
            SetHandler(stage.Out, this);
        }

        public override void PreStart()
        {
            var onRead = GetAsyncCallback<Task<ByteString?>>(OnRead);
            var onWritten = GetAsyncCallback<Task>(OnWritten);
            // A read or write that ends after the stage stopped (the stream was closed under it) has nobody to tell.
            _readDone = t =>
            {
                if (!_stopped)
                {
                    onRead(t);
                }
            };
            _writeDone = t =>
            {
                if (!_stopped)
                {
                    onWritten(t);
                }
            };
            Pull(_stage.In);
        }

        /// <summary>The flow wants the next bytes read.</summary>
        public override void OnPull()
        {
            var read = ReadAsync(_stream);
            if (read.IsCompleted)
            {
                OnRead(read);
            }
            else
            {
                read.ContinueWith(_readDone!, TaskContinuationOptions.ExecuteSynchronously);
            }
        }

        private void OnRead(Task<ByteString?> read)
        {
            if (IsClosed(_stage.Out))
            {
                return;
            }

            if (!read.IsCompletedSuccessfully)
            {
                // A reset by the peer, or a TLS error: the connection fails with its cause, and logs it.
                Fail(_stage.Out, read.Exception?.GetBaseException() ?? new IOException("read cancelled"));
            }
            else if (read.Result is { } bytes)
            {
                Push(_stage.Out, bytes);
            }
            else
            {
                // The peer closed its side: the connection's input ends (its actor then stops).
                Complete(_stage.Out);
            }
        }

        /// <summary>
        /// The flow reads no more (its actor stopped): what it still writes (a connection.close-ok)
        /// goes out, and the stage stops when its output completes.
        /// </summary>
        public override void OnDownstreamFinish(Exception cause)
        {
        }

        /// <summary>Frames to write.</summary>
        public override void OnPush()
        {
            var write = WriteAsync(_stream, Grab(_stage.In));
            if (write.IsCompleted)
            {
                OnWritten(write);
            }
            else
            {
                _writing = true;
                write.ContinueWith(_writeDone!, TaskContinuationOptions.ExecuteSynchronously);
            }
        }

        private void OnWritten(Task write)
        {
            _writing = false;
            if (!write.IsCompletedSuccessfully)
            {
                FailStage(write.Exception?.GetBaseException() ?? new IOException("write cancelled"));
            }
            else if (IsClosed(_stage.In))
            {
                CompleteStage();
            }
            else
            {
                Pull(_stage.In);
            }
        }

        /// <summary>The connection wrote its last frames: the stream closes once they are out.</summary>
        public override void OnUpstreamFinish()
        {
            if (!_writing)
            {
                CompleteStage();
            }
        }

        public override void PostStop()
        {
            _stopped = true;
            _stream.Dispose();
        }
    }
}
