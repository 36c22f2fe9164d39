using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Akka.Remote;

namespace Broker.Actors.Cluster;

/// <summary>
/// Keeps this node's lease (INodeFence) and acts on what each renewal reports:
/// - renewed: deliveries may go on for most of the lease (NodeLease);
/// - refused because a peer fenced this node (it took this node's queues over): the node stops at
///   once, like a downed one;
/// - failed (database unreachable, or this node's session there ended and with it its lock):
///   deliveries pause at once, until a renewal succeeds again (the next one reconnects and takes
///   the lock first);
/// - a peer's lock is free while its connection to this node is down: that process is gone, so it
///   is quarantined and downed now instead of after missed heartbeats and the resolver's wait.
///   (A free lock alone is not enough: a database restart frees every lock while nodes live.)
/// - a peer holds its lock but has not renewed its lease for <see cref="Silence"/> past its end,
///   while this node renewed its own all along: the peer is frozen or cut off from the database,
///   so it stopped serving by its own lease; it is downed too, without waiting for the failure
///   detector and the resolver. (A database outage stops every node's renewals, this one's too,
///   so it downs nobody.)
/// - this node was quarantined by a peer (downed that way): it stops, like a downed node.
/// </summary>
public sealed class LeaseKeeperActor : ReceiveActor, IWithTimers
{
    public const string ActorName = "lease-keeper";

    /// <summary>How often the lease is renewed and peers' locks looked at: the fast path's detection time.</summary>
    public static readonly TimeSpan RenewInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// A renewal unanswered for this long suspends the lease until one succeeds: this node's
    /// session may have ended on the server (its lock free, so a take-over need not wait) while
    /// its own socket has not noticed yet.
    /// </summary>
    public static readonly TimeSpan RenewalOverdue = TimeSpan.FromMilliseconds(300);

    /// <summary>How long past its lease's end a peer that renews no more is given before it is downed.</summary>
    public static readonly TimeSpan Silence = TimeSpan.FromSeconds(1);

    private readonly INodeFence _fence;
    private readonly NodeLease _lease;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);

    /// <summary>Remote addresses whose association ended (or failed) and has not come back.</summary>
    private readonly HashSet<Address> _disconnected = new();

    private readonly HashSet<Akka.Cluster.UniqueAddress> _downed = new();
    private bool _renewing;
    private long _renewalSentAt;
    private bool _failing;
    private bool _stopping;

    /// <summary>When this node's current unbroken run of successful renewals began (0: the last one failed).</summary>
    private long _renewingSince;

    public LeaseKeeperActor(INodeFence fence, NodeLease lease)
    {
        _fence = fence;
        _lease = lease;
        Receive<Tick>(_ => Renew());
        Receive<Renewed>(OnRenewed);
        Receive<RenewFailed>(f =>
        {
            _renewing = false;
            _renewingSince = 0;
            // Without a renewal this node cannot tell whether it still holds its lock.
            _lease.Suspend();
            if (!_failing)
            {
                _failing = true;
                _log.Warning("Cannot renew this node's lease in the database ({0}): its durable queues pause deliveries and refuse publishes until it can",
                    f.Cause.GetBaseException().Message);
            }
        });
        Receive<AssociatedEvent>(e => _disconnected.Remove(e.RemoteAddress));
        Receive<DisassociatedEvent>(e => _disconnected.Add(e.RemoteAddress));
        Receive<AssociationErrorEvent>(e => _disconnected.Add(e.RemoteAddress));
        Receive<ThisActorSystemQuarantinedEvent>(e =>
            Stop($"node {e.RemoteAddress} quarantined this node (it was downed while frozen or cut off)"));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(AssociatedEvent));
        Context.System.EventStream.Subscribe(Self, typeof(DisassociatedEvent));
        Context.System.EventStream.Subscribe(Self, typeof(AssociationErrorEvent));
        Context.System.EventStream.Subscribe(Self, typeof(ThisActorSystemQuarantinedEvent));
        Timers.StartPeriodicTimer("renew", Tick.Instance, RenewInterval);
    }

    private void Renew()
    {
        if (_stopping)
        {
            return;
        }

        if (_renewing)
        {
            if (Stopwatch.GetElapsedTime(_renewalSentAt) > RenewalOverdue)
            {
                _lease.Suspend();
            }

            return;
        }

        _renewing = true;
        long sentAt = Stopwatch.GetTimestamp();
        _renewalSentAt = sentAt;
        _fence.RenewAsync(Silence, CancellationToken.None).PipeTo(Self, Self,
            r => new Renewed(sentAt, r), e => new RenewFailed(e));
    }

    private void OnRenewed(Renewed r)
    {
        _renewing = false;
        if (r.Result.Fenced)
        {
            Stop("another node took over its queues after it was cut off or frozen (it fenced this node)");
            return;
        }

        if (_stopping)
        {
            return;
        }

        _lease.Renewed(r.SentAt, _fence.LeaseDuration);
        if (_renewingSince == 0)
        {
            _renewingSince = r.SentAt;
        }

        if (_failing)
        {
            _failing = false;
            _log.Info("This node's lease is renewed again");
        }

        foreach (var peer in r.Result.DeadPeers)
        {
            DownIfMember(peer, requireDisconnected: true, "its database lock is free and its connection closed: the process is gone");
        }

        // Only if this node's own renewals covered the whole time the peer's did not.
        if (Stopwatch.GetElapsedTime(_renewingSince) > _fence.LeaseDuration + Silence)
        {
            foreach (var peer in r.Result.SilentPeers)
            {
                DownIfMember(peer, requireDisconnected: false,
                    $"its lease ran out over {Silence.TotalSeconds:0.#} s ago: it is frozen or cut off from the database, and serves nothing");
            }
        }
    }

    /// <summary>Stops the node at once (a downed node does the same); its lease is void from now.</summary>
    private void Stop(string reason)
    {
        _lease.Suspend();
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        Timers.CancelAll();
        _log.Error("Stopping this node: {0}. It rejoins as a new member when restarted", reason);
        Context.System.Terminate();
    }

    private void DownIfMember(PeerIncarnation peer, bool requireDisconnected, string why)
    {
        var member = _cluster.State.Members.FirstOrDefault(m =>
            m.UniqueAddress.Uid == peer.Uid && m.Address.ToString() == peer.Address);
        // A node leaving in order releases its lock only once it is out; nothing to do for it.
        if (member is null || member.Status is not (Akka.Cluster.MemberStatus.Up or Akka.Cluster.MemberStatus.WeaklyUp
                or Akka.Cluster.MemberStatus.Joining) ||
            (requireDisconnected && !_disconnected.Contains(member.Address)) || !_downed.Add(member.UniqueAddress))
        {
            return;
        }

        _log.Warning("Downing node {0} ({1}) now: {2}", peer.NodeName, member.Address, why);
        // Quarantine marks it unreachable at once (the leader removes only unreachable members), Down lets it be removed.
        ((IRemoteActorRefProvider)((ExtendedActorSystem)Context.System).Provider).Quarantine(member.Address, member.UniqueAddress.Uid);
        _cluster.Down(member.Address);
    }

    private sealed class Tick : INoSerializationVerificationNeeded
    {
        public static readonly Tick Instance = new();
    }

    private sealed record Renewed(long SentAt, LeaseRenewal Result) : INoSerializationVerificationNeeded;

    private sealed record RenewFailed(Exception Cause) : INoSerializationVerificationNeeded;
}
