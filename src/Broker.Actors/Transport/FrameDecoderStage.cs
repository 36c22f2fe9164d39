using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;
using Broker.Protocol;

namespace Broker.Actors.Transport;

/// <summary>
/// The Akka.Streams stage in front of a connection: bytes in, batches of whole commands out (one
/// batch per TCP read, so the connection actor acknowledges a read rather than every frame).
/// The decoding itself is <see cref="FrameDecoder"/>; this stage only buffers, pushes and pulls.
/// </summary>
public sealed class FrameDecoderStage : GraphStage<FlowShape<ByteString, InboundBatch>>
{
    private readonly int _frameMax;
    private readonly long _maxMessageSize;
    private readonly Stats.ConnectionStats? _stats;

    /// <param name="stats">Counts the bytes and reads taken in (recv_oct, recv_cnt), if given.</param>
    public FrameDecoderStage(int frameMax, long maxMessageSize, Stats.ConnectionStats? stats = null)
    {
        _frameMax = frameMax;
        _maxMessageSize = maxMessageSize;
        _stats = stats;
        Shape = new FlowShape<ByteString, InboundBatch>(In, Out);
    }

    public Inlet<ByteString> In { get; } = new("amqp.bytes.in");
    public Outlet<InboundBatch> Out { get; } = new("amqp.commands.out");
    public override FlowShape<ByteString, InboundBatch> Shape { get; }

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : InAndOutGraphStageLogic
    {
        private readonly FrameDecoderStage _stage;
        private readonly FrameDecoder _decoder;

        public Logic(FrameDecoderStage stage) : base(stage.Shape)
        {
            _stage = stage;
            _decoder = new FrameDecoder(stage._frameMax, stage._maxMessageSize);
            SetHandler(stage.In, this);
            SetHandler(stage.Out, this);
        }

        public override void OnPush()
        {
            var bytes = Grab(_stage.In);
            if (_stage._stats is { } stats)
            {
                stats.ReceivedBytes += bytes.Count;
                stats.ReceivedFrames++;
            }

            var events = new List<InboundEvent>();
            _decoder.Feed(bytes.ToReadOnlySpan(), events);

            if (events.Count > 0)
            {
                Push(_stage.Out, new InboundBatch(events));
            }
            else
            {
                Pull(_stage.In);
            }
        }

        public override void OnPull() => Pull(_stage.In);
    }
}
