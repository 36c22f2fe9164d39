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

    private readonly HashSet<ulong> _txSettledTags = new();

    private bool IsSettledInTx(ulong tag) => _tx && _txSettledTags.Contains(tag);

    private void OnTxSelect()
    {
        if (_confirmMode)
        {
            throw AmqpException.PreconditionFailed("cannot switch from confirm to tx mode");
        }

        _tx = true;
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
        foreach (var p in publishes)
        {
            // Negative confirm ids mark transactional publishes: their answers count down the commit.
            _txOutstanding += Deliver(p.Message, p.Queues, p.Mandatory, -(++_txSeq));
        }

        if (_txOutstanding == 0)
        {
            Emit(new TxCommitOk());
            return;
        }

        Request(() => { }, _ => Emit(new TxCommitOk()));
    }

    private void OnTxPublishResolved()
    {
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
