using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;
using Broker.Actors.Cluster;

namespace Broker.Actors.Transport;

/// <summary>
/// The last stage before a client's socket on a node with a fence: while the node's lease has
/// lapsed (it was frozen, or lost the database), nothing more leaves for the client. Deliveries and
/// confirms queued before a freeze would otherwise go out when the process runs again, after its
/// queues may have been taken over; held here, they go once the lease is renewed, or never, when
/// the node learns it was fenced and stops.
/// </summary>
public sealed class LeaseGateStage : GraphStage<FlowShape<ByteString, ByteString>>
{
    private static readonly TimeSpan Recheck = TimeSpan.FromMilliseconds(50);
    private readonly NodeLease _lease;

    public LeaseGateStage(NodeLease lease) => _lease = lease;

    public Inlet<ByteString> In { get; } = new("lease-gate.in");

    public Outlet<ByteString> Out { get; } = new("lease-gate.out");

    public override FlowShape<ByteString, ByteString> Shape => new(In, Out);

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : TimerGraphStageLogic, IInHandler, IOutHandler
    {
        private readonly LeaseGateStage _stage;
        private ByteString? _held;

        public Logic(LeaseGateStage stage) : base(stage.Shape)
        {
            _stage = stage;
            SetHandler(stage.In, this);
            SetHandler(stage.Out, this);
        }

        public void OnPush()
        {
            var bytes = Grab(_stage.In);
            if (_stage._lease.IsValid)
            {
                Push(_stage.Out, bytes);
                return;
            }

            _held = bytes;
            ScheduleOnce("recheck", Recheck);
        }

        protected override void OnTimer(object timerKey)
        {
            if (_held is null)
            {
                return;
            }

            if (!_stage._lease.IsValid)
            {
                ScheduleOnce("recheck", Recheck);
                return;
            }

            var bytes = _held;
            _held = null;
            Push(_stage.Out, bytes);
            if (IsClosed(_stage.In))
            {
                CompleteStage();
            }
        }

        public void OnUpstreamFinish()
        {
            if (_held is null)
            {
                CompleteStage();
            }
        }

        public void OnUpstreamFailure(Exception e) => FailStage(e);

        public void OnPull()
        {
            if (_held is null && !HasBeenPulled(_stage.In) && !IsClosed(_stage.In))
            {
                Pull(_stage.In);
            }
        }

        public void OnDownstreamFinish(Exception cause) => CompleteStage();
    }
}
