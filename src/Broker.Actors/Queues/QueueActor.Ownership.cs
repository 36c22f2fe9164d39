using Akka.Actor;
using Akka.Event;
using Broker.Actors.Cluster;

namespace Broker.Actors.Queues;

/// <summary>
/// Ownership of a durable queue's journal when the node has a fence (INodeFence, docs/cluster.md
/// "Fencing"):
/// - after recovery and before serving anything, the queue claims its journal. From then on the
///   database refuses the previous owner's writes, so a node the queue was taken from (frozen, cut
///   off) can confirm nothing more for it. If that node's lease may still run, the claim waits.
/// - if the journal grew between this node's recovery read and the claim (the previous owner
///   was still writing), the queue restarts and reads it again: nothing it confirmed is missed.
/// - an orderly stop (moving away, deleted) releases the journal first, so the next owner does
///   not take this node for a lost one; any other stop (a failed write, a restart, a hand-off cut
///   short) releases it as it goes. A release names its claim's epoch, so a late one never undoes
///   the next incarnation's claim.
/// - messages are handed out only while the node's lease is valid, so a node that froze or lost
///   the database delivers nothing once its lease could have run out and the queue moved.
/// </summary>
public sealed partial class QueueActor
{
    private static readonly TimeSpan ClaimRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ReleaseTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan LeaseRecheckDelay = TimeSpan.FromMilliseconds(100);

    /// <summary>A sharded (durable) queue: node-local queues are never taken over, so they claim nothing.</summary>
    private readonly bool _sharded;

    /// <summary>The epoch of this incarnation's claim (0: none yet, or released).</summary>
    private long _claimEpoch;

    /// <summary>A claim sent and not yet answered (released as soon as it lands if the actor stops first).</summary>
    private Task<ClaimOutcome>? _claimInFlight;

    private bool ClaimsOwnership => _sharded && _broker.Settings.Fence is not null;

    /// <summary>False while this node's lease has lapsed: deliveries wait and publishes are refused.</summary>
    private bool LeaseValid => !_sharded || _broker.Lease.IsValid;

    /// <summary>Holds every command back until the claim is done.</summary>
    private void BeginClaim()
    {
        BecomeStacked(() =>
        {
            Command<OwnershipClaimed>(OnClaimed);
            Command<ClaimAgain>(_ => Claim());
            CommandAny(_ => Stash.Stash());
        });
        Claim();
    }

    private void Claim()
    {
        var claim = _broker.Settings.Fence!.ClaimAsync(PersistenceId, CancellationToken.None);
        _claimInFlight = claim;
        claim.PipeTo(Self, Self, o => new OwnershipClaimed(o, null), e => new OwnershipClaimed(default, e));
    }

    private void OnClaimed(OwnershipClaimed claimed)
    {
        _claimInFlight = null;
        if (claimed.Error is { } error)
        {
            _log.Warning("queue '{0}' in vhost '{1}': cannot claim its journal ({2}); trying again in {3:F0} s", _name, _vhost,
                error.GetBaseException().Message, ClaimRetry.TotalSeconds);
            Timers.StartSingleTimer("claim", ClaimAgain.Instance, ClaimRetry);
            return;
        }

        var outcome = claimed.Outcome;
        if (outcome.Wait > TimeSpan.Zero)
        {
            _log.Info("queue '{0}' in vhost '{1}': its previous node {2} is fenced; taking over once its lease runs out in {3} ms",
                _name, _vhost, outcome.Previous, (long)outcome.Wait.TotalMilliseconds);
            Timers.StartSingleTimer("claim", ClaimAgain.Instance, outcome.Wait);
            return;
        }

        // Claimed: from here on any stop releases it (a restart for a re-read included).
        _claimEpoch = outcome.Epoch;
        if (outcome.HighestSequenceNr > LastSequenceNr)
        {
            // Its previous node wrote after this node read the journal: read it again (a restart recovers).
            throw new InvalidOperationException(
                $"queue '{_name}' in vhost '{_vhost}': journal grew from {LastSequenceNr} to {outcome.HighestSequenceNr} during the take-over; recovering again");
        }

        if (outcome.Previous is { } previous && previous != _broker.Settings.Fence!.Incarnation)
        {
            _log.Info("queue '{0}' in vhost '{1}': took its journal over from {2}", _name, _vhost, previous);
        }

        UnbecomeStacked();
        Stash.UnstashAll();
        ServeRecovered();
    }

    /// <summary>Stops the actor; a queue that claimed its journal releases it first.</summary>
    private void StopReleasing()
    {
        if (_claimEpoch == 0)
        {
            Context.Stop(Self);
            return;
        }

        var timeout = new CancellationTokenSource(ReleaseTimeout);
        var release = Release(_claimEpoch, timeout.Token);
        _claimEpoch = 0;
        release.ContinueWith(_ => timeout.Dispose(), TaskScheduler.Default);
        release.PipeTo(Self, Self, () => OwnershipReleased.Instance, e =>
        {
            _log.Warning("queue '{0}' in vhost '{1}': could not release its journal ({2}); its next owner will fence this node",
                _name, _vhost, e.GetBaseException().Message);
            return OwnershipReleased.Instance;
        });
        // The queue is stopping: what arrives meanwhile is dropped; channels notice the actor stop
        // (they nack their unconfirmed publishes and run their requests again on its next incarnation).
        BecomeStacked(() =>
        {
            Command<OwnershipReleased>(_ => Context.Stop(Self));
            CommandAny(_ => { });
        });
    }

    /// <summary>Any other stop (a failed write, a restart, a hand-off cut short): release on the way out, best effort.</summary>
    private void ReleaseOnStop()
    {
        if (_claimEpoch != 0)
        {
            _ = Release(_claimEpoch, CancellationToken.None).ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
            _claimEpoch = 0;
        }
        else if (_claimInFlight is { } claim)
        {
            // A claim that lands after the actor is gone is given up at once.
            var fence = _broker.Settings.Fence!;
            string pid = PersistenceId;
            _ = claim.ContinueWith(t => t.IsCompletedSuccessfully && t.Result.Wait == TimeSpan.Zero
                    ? fence.ReleaseAsync(pid, t.Result.Epoch, forget: false, CancellationToken.None)
                    : Task.CompletedTask, TaskScheduler.Default).Unwrap()
                .ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
        }

        _claimInFlight = null;
    }

    private Task Release(long epoch, CancellationToken ct) =>
        _broker.Settings.Fence!.ReleaseAsync(PersistenceId, epoch, forget: _definition is null, ct);

    /// <summary>Deliveries held back by a lapsed lease are tried again shortly.</summary>
    private void RecheckLeaseSoon()
    {
        if (!Timers.IsTimerActive("lease"))
        {
            Timers.StartSingleTimer("lease", LeaseRecheck.Instance, LeaseRecheckDelay);
        }
    }

    private sealed record OwnershipClaimed(ClaimOutcome Outcome, Exception? Error) : INoSerializationVerificationNeeded;

    private sealed class ClaimAgain : INoSerializationVerificationNeeded
    {
        public static readonly ClaimAgain Instance = new();
    }

    private sealed class OwnershipReleased : INoSerializationVerificationNeeded
    {
        public static readonly OwnershipReleased Instance = new();
    }

    private sealed class LeaseRecheck : INoSerializationVerificationNeeded
    {
        public static readonly LeaseRecheck Instance = new();
    }
}
