using Akka.Actor;
using Broker.Actors.Queues;
using Broker.Protocol;
using Broker.Protocol.Methods;

namespace Broker.Actors.Channel;

/// <summary>
/// tx.select/commit/rollback: publishes and settlements are held until commit; commit-ok is sent
/// once every held publish is in its queues; rollback drops them (the deliveries stay unacked).
/// </summary>
public sealed partial class ChannelActor
{
    private readonly List<PendingPublish> _txPublishes = new();
    private readonly List<(List<ulong> Tags, Settlement Outcome)> _txSettlements = new();
    private bool _tx;
    private long _txSeq;
    private int _txOutstanding;

    /// <summary>Why the commit in progress cannot succeed, if a publish of it failed.</summary>
    private string? _txFailure;

    private readonly HashSet<ulong> _txSettledTags = new();

    private bool IsSettledInTx(ulong tag) => _tx && _txSettledTags.Contains(tag);

    private void OnTxSelect()
    {
        if (_confirmMode)
        {
            throw AmqpException.PreconditionFailed("cannot switch from confirm to tx mode");
        }

        _tx = true;
        _stats.Transactional = true;
        Emit(new TxSelectOk());
    }

    private void OnTxCommit()
    {
        RequireTx();
        foreach (var (tags, outcome) in _txSettlements)
        {
            Settle(tags, outcome);
        }

        _txSettlements.Clear();
        _txSettledTags.Clear();
        var publishes = _txPublishes.ToList();
        _txPublishes.Clear();
        _txOutstanding = 0;
        _txFailure = null;
        foreach (var p in publishes)
        {
            // Negative confirm ids mark transactional publishes: their answers count down the commit.
            _txOutstanding += Deliver(p.Message, p.Queues, p.Mandatory, -(++_txSeq));
        }

        if (_txOutstanding == 0)
        {
            CompleteCommit();
            return;
        }

        Request(() => { }, _ => CompleteCommit());
    }

    /// <summary>commit-ok only if every publish reached its queues; otherwise the channel closes (the spec's failed commit).</summary>
    private void CompleteCommit()
    {
        if (_txFailure is { } failure)
        {
            _txFailure = null;
            throw AmqpException.PreconditionFailed($"transaction not committed: {failure}");
        }

        Emit(new TxCommitOk());
    }

    private void OnTxPublishResolved(bool failed)
    {
        if (failed)
        {
            _txFailure ??= "a queue could not take a message (it is moving or its node is down)";
        }

        if (--_txOutstanding == 0)
        {
            Self.Tell(TxCommitted.Instance);
        }
    }

    private void OnTxRollback()
    {
        RequireTx();
        _txPublishes.Clear();
        _txSettlements.Clear();
        _txSettledTags.Clear();
        Emit(new TxRollbackOk());
    }

    private void RequireTx()
    {
        if (!_tx)
        {
            throw AmqpException.PreconditionFailed("channel is not transactional");
        }
    }

    private sealed record PendingPublish(Message Message, string[] Queues, bool Mandatory);
}
