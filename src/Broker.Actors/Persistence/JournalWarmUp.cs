using Akka.Actor;
using Akka.Persistence;

namespace Broker.Actors.Persistence;

/// <summary>
/// Recovers an empty persistence id and stops: that makes this node's journal and snapshot store
/// start, which is when they create their tables. Run under the journal's init lock before the
/// node joins the cluster, so nodes that start together on an empty database never race on
/// CREATE TABLE, and a journal that cannot be reached fails the start with its error.
/// </summary>
public sealed class JournalWarmUp : ReceivePersistentActor
{
    private readonly TaskCompletionSource _done;

    public JournalWarmUp(TaskCompletionSource done)
    {
        _done = done;
        Recover<RecoveryCompleted>(_ =>
        {
            _done.TrySetResult();
            Context.Stop(Self);
        });
        Command<object>(_ => { });
    }

    public override string PersistenceId => "broker-journal-warm-up";

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _done.TrySetException(reason);
        base.OnRecoveryFailure(reason, message);
    }
}
