using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Broker.Actors.Cluster;
using Broker.Protocol;

namespace Broker.Actors.Queues;

/// <summary>
/// What a durable queue writes to the journal and how it reads it back.
/// - Persistent messages are written in batches (one MessagesEnqueued row for everything that
///   arrived while the previous write was going on) with PersistAsync, and confirmed from the
///   write's callback: confirmed means journaled.
/// - Acks, rejects and purges are batched the same way into MessagesRemoved rows.
/// - A DeliveryWatermark is written ahead of deliveries: after a crash, a message at or below it
///   comes back with redelivered=true, one above it was never handed out.
/// - Compaction: once the oldest live message is far enough ahead, the queue re-writes its
///   definition (with counters) and deletes every event below the oldest live message, so the
///   journal holds what is queued, not the queue's history, and recovery replays only that.
/// </summary>
public sealed partial class QueueActor
{
    /// <summary>How far ahead of the last delivered id a watermark is written.</summary>
    private const long WatermarkMargin = 2000;

    /// <summary>
    /// Batch writes in flight at once, per lane (enqueues, removals). While they are, new messages
    /// and removals gather into the next batch: group commit, so under load each row carries many.
    /// </summary>
    private const int MaxWritesInFlight = 2;

    /// <summary>Removal writes in flight: one, so removals batch up well while acks still never wait for enqueues.</summary>
    private const int MaxRemoveWritesInFlight = 1;

    /// <summary>
    /// How far (in events) the oldest live row may fall behind before its few live messages are
    /// written again in a new row, so one long-unacked message does not pin the journal.
    /// </summary>
    private const long StragglerDistance = 256;

    /// <summary>Most live messages a straggler row may have to be re-written rather than waited for.</summary>
    private const int StragglerMaxMessages = 1000;

    /// <summary>Events written between compaction attempts.</summary>
    private const int CompactAfterEvents = 64;

    /// <summary>Replay: the live messages read so far (id, row, size, expiry; not their bodies, which stay in the rows).</summary>
    private readonly Dictionary<long, RecoveredEntry> _recovered = new();

    /// <summary>Replay without IJournalRows (the in-memory journal): the rows' messages, kept to be read back from here.</summary>
    private Dictionary<long, IReadOnlyList<StoredMessage>>? _recoveredRows;
    private readonly List<StoredMessage> _enqueueBatch = new();
    private readonly List<(IActorRef Channel, long ConfirmId)> _enqueueConfirms = new();
    private readonly Queue<List<(IActorRef Channel, long ConfirmId)>> _confirmsInFlight = new();

    /// <summary>Which ids are where on their way into (and out of) the journal; decides removals and compaction.</summary>
    private JournalLedger _ledger = new();
    private long _recoveredWatermark;

    /// <summary>The lowest id a new state may use: above every id the journal (or a deleted predecessor on this actor) used.</summary>
    private long _idFloor = 1;
    private bool _watermarkInFlight;
    private bool _tickScheduled;
    private int _eventsSinceCompaction;
    private long _compactedUpTo;
    private bool _stragglerRewriteInFlight;
    private int _enqueueWritesInFlight;
    private int _removeWritesInFlight;

    private readonly List<IActorRef> _flushWaiters = new();

    private void RecoverJournal()
    {
        Recover<QueueCreated>(e =>
        {
            _definition = new QueueDefinition(e.VHost, e.Name, true, false, e.AutoDelete, ArgumentCodec.Decode(e.Arguments));
            _idFloor = Math.Max(_idFloor, e.NextId);
            _recoveredWatermark = Math.Max(_recoveredWatermark, e.DeliveredUpTo);
        });
        // The ledger follows the replay, so it sees rows in journal order (as they were written).
        Recover<MessagesEnqueued>(e =>
        {
            long seq = LastSequenceNr;
            if (_broker.Settings.JournalRows is null)
            {
                (_recoveredRows ??= new())[seq] = e.Messages;
            }

            foreach (var m in e.Messages)
            {
                _recovered[m.Id] = new RecoveredEntry(m.Id, seq, m.Body.Length, m.ExpiresAt);
                _ledger.Recovered(m.Id, seq);
                _idFloor = Math.Max(_idFloor, m.Id + 1);
            }
        });
        Recover<MessagesRemoved>(e =>
        {
            foreach (var id in e.Ids)
            {
                _recovered.Remove(id);
                _ledger.RecoveredRemoval(id);
            }
        });
        Recover<DeliveryWatermark>(e => _recoveredWatermark = Math.Max(_recoveredWatermark, e.UpTo));
        Recover<QueueRemoved>(_ =>
        {
            _definition = null;
            _recovered.Clear();
            _recoveredRows = null;
            _ledger = new JournalLedger();
            // The watermark was the deleted queue's; ids go on above its.
            _recoveredWatermark = 0;
        });
        Recover<RecoveryCompleted>(_ => OnRecovered());
    }

    private void OnRecovered()
    {
        if (_definition is null)
        {
            _recovered.Clear();
            _recoveredRows = null;
            _ledger = new JournalLedger();
        }
        else
        {
            RestoreRecovered(_definition);
        }

        if (ClaimsOwnership)
        {
            BeginClaim();
            return;
        }

        ServeRecovered();
    }

    /// <summary>
    /// The recovered messages become the new state. A queue that pages leaves them in their journal
    /// rows as its paged tail (RecoveredTail) and reads back only its head now; one that does not
    /// (priorities, delayed messages, no budget) reads them all back into memory.
    /// </summary>
    private void RestoreRecovered(QueueDefinition def)
    {
        var entries = _recovered.Values.ToArray();
        Array.Sort(entries, (a, b) => a.Id.CompareTo(b.Id));
        _recovered.Clear();
        var rows = _recoveredRows;
        _recoveredRows = null;
        long watermark = _recoveredWatermark;
        var tail = new RecoveredTail(entries, rows is null ? ReadJournalRows : (from, to, message) => ReadKeptRows(rows, from, to, message),
            m => new QueuedMessage(m.Id, RecoveredMessage(m), redelivered: m.Id <= watermark, expiresAt: m.ExpiresAt), NewPagedTail());
        _state = new QueueState<IActorRef>(EffectiveArguments(def), journaled: true, this, tail, _broker.Settings.QueueMemoryBudget);
        if (!_state.RestorePaged(entries) && entries.Length > 0)
        {
            var all = new List<QueuedMessage>(entries.Length);
            tail.ReadNext(long.MaxValue, all);
            foreach (var m in all)
            {
                _state.Restore(m.Id, m.Message, m.ExpiresAt, m.Redelivered);
            }
        }

        _state.RestoreCounters(_idFloor, _recoveredWatermark);
    }

    private static Message RecoveredMessage(StoredMessage m) =>
        new(m.Exchange, m.RoutingKey, ContentHeader.DecodeProperties(m.RawProperties), m.RawProperties, m.Body);

    /// <summary>Reads this queue's rows [from, to] back from the journal (on the queue's thread: a batch of about 1 MiB, as the page file is read).</summary>
    private void ReadJournalRows(long from, long to, Action<StoredMessage> message) =>
        _broker.Settings.JournalRows!.Read(PersistenceId, from, to, (_, bytes, serializerId, manifest) =>
        {
            if (Context.System.Serialization.Deserialize(bytes, serializerId, manifest) is MessagesEnqueued e)
            {
                foreach (var m in e.Messages)
                {
                    message(m);
                }
            }
        });

    private static void ReadKeptRows(Dictionary<long, IReadOnlyList<StoredMessage>> rows, long from, long to, Action<StoredMessage> message)
    {
        for (long row = from; row <= to; row++)
        {
            if (rows.TryGetValue(row, out var messages))
            {
                foreach (var m in messages)
                {
                    message(m);
                }
            }
        }
    }

    /// <summary>The queue is recovered (and owns its journal): it tells every node where it is.</summary>
    private void ServeRecovered()
    {
        if (_definition is null)
        {
            return;
        }

        Register();
        _log.Info("Recovered durable queue '{0}' in vhost '{1}' with {2} message(s) on node {3}", _name, _vhost, _state!.ReadyCount,
            _broker.Settings.NodeName);
        // Expiry is measured from the original publish: what expired (or fell due) while the queue
        // was down goes now, once the node knows every exchange and queue it may go to.
        if (_broker.TopologyRecovered.Task.IsCompleted)
        {
            _state.Recovered(Tick());
        }
        else
        {
            BrokerContext.TellWhenDone(_broker.TopologyRecovered.Task, Self, TopologyRecovered.Instance, Self);
        }

        RestartExpiryTimer();
    }

    private QueueCreated CreatedEvent(QueueDefinition def) =>
        new(_vhost, _name, def.AutoDelete, ArgumentCodec.Encode(def.Arguments), _state?.NextId ?? _idFloor, _state?.DeliverableUpTo ?? 0);

    private void JournalEnqueue(QueuedMessage m, long confirmId)
    {
        var msg = m.Message;
        _enqueueBatch.Add(new StoredMessage(m.Id, msg.Exchange, msg.RoutingKey, msg.RawProperties, msg.Body, m.ExpiresAt));
        _ledger.Enqueued(m.Id);
        if (confirmId != 0)
        {
            _enqueueConfirms.Add((Sender, confirmId));
        }

        ScheduleWrite();
    }

    /// <summary>A message left the queue: a journaled one gets a removal (a message never journaled, none).</summary>
    private void JournalRemove(QueuedMessage m)
    {
        if (!Durable || !m.Message.Persistent)
        {
            return;
        }

        if (_ledger.Removed(m.Id))
        {
            ScheduleWrite();
        }
    }

    /// <summary>Batches are written once the mailbox has been worked through (a self-message away).</summary>
    private void ScheduleWrite()
    {
        if (!_tickScheduled)
        {
            _tickScheduled = true;
            Self.Tell(JournalTick.Instance);
        }
    }

    /// <summary>
    /// Writes what is batched. Enqueues and removals have lanes of their own, so acks are not held
    /// up behind message writes (the fewer acks in flight, the fewer come back after a crash). A
    /// removal is written only once the enqueue of the same message has been issued, so the journal
    /// never holds a removal before its enqueue.
    /// </summary>
    private void WriteBatches()
    {
        _tickScheduled = false;
        if (_enqueueBatch.Count > 0 && _enqueueWritesInFlight < MaxWritesInFlight)
        {
            var batch = new MessagesEnqueued(_enqueueBatch.ToArray());
            var confirms = _enqueueConfirms.ToList();
            _enqueueBatch.Clear();
            _enqueueConfirms.Clear();
            _ledger.EnqueueBatchIssued();
            _confirmsInFlight.Enqueue(confirms);
            _enqueueWritesInFlight++;
            long issued = System.Diagnostics.Stopwatch.GetTimestamp();
            PersistAsync(batch, e =>
            {
                _broker.Stats.JournalWrites.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(issued));
                _enqueueWritesInFlight--;
                OnEnqueuesWritten(e, confirms);
                OnBatchWritten();
            });
        }

        if (_ledger.PendingRemovals > 0 && _removeWritesInFlight < MaxRemoveWritesInFlight)
        {
            long[] ready = _ledger.TakeWritableRemovals();
            if (ready.Length > 0)
            {
                _removeWritesInFlight++;
                PersistAsync(new MessagesRemoved(ready), _ =>
                {
                    _removeWritesInFlight--;
                    AfterWrite();
                    OnBatchWritten();
                });
            }
        }
    }

    private void OnBatchWritten()
    {
        if (_enqueueBatch.Count > 0 || _ledger.PendingRemovals > 0)
        {
            WriteBatches();
        }

        ReplyIfFlushed();
    }

    private void OnEnqueuesWritten(MessagesEnqueued written, List<(IActorRef Channel, long ConfirmId)> confirms)
    {
        _confirmsInFlight.Dequeue();
        _ledger.EnqueuesWritten(written.Messages.Select(m => m.Id), LastSequenceNr);

        foreach (var (channel, confirmId) in confirms)
        {
            channel.Tell(new Enqueued(Self, confirmId), Self);
        }

        AfterWrite();
    }

    /// <summary>
    /// Deletes the journal below the oldest live message once enough was written, after re-writing
    /// the queue's definition above that point so that it survives the cut.
    /// </summary>
    private void AfterWrite()
    {
        if (++_eventsSinceCompaction >= CompactAfterEvents)
        {
            Compact();
        }
    }

    private void Compact()
    {
        if (_definition is null || !Durable)
        {
            return;
        }

        if (!_stragglerRewriteInFlight && _ledger.StragglerRow(LastSequenceNr, StragglerDistance, StragglerMaxMessages) is { } straggler)
        {
            RewriteStragglers(straggler);
        }

        long cut = _ledger.CompactionCut(LastSequenceNr);
        if (cut <= _compactedUpTo)
        {
            return;
        }

        _eventsSinceCompaction = 0;
        PersistAsync(CreatedEvent(_definition), _ =>
        {
            _compactedUpTo = cut;
            DeleteMessages(cut);
        });
    }

    /// <summary>
    /// Writes the live messages of an old row again in a new row (recovery keeps the later copy, and
    /// a later removal still removes it), so that the next compaction can cut past the old row.
    /// </summary>
    private void RewriteStragglers(long batchSeq)
    {
        var stored = new List<StoredMessage>();
        foreach (var id in _ledger.LiveIn(batchSeq))
        {
            if (_state?.FindLive(id) is { } m)
            {
                var msg = m.Message;
                stored.Add(new StoredMessage(id, msg.Exchange, msg.RoutingKey, msg.RawProperties, msg.Body, m.ExpiresAt));
            }
        }

        if (stored.Count == 0)
        {
            return;
        }

        _stragglerRewriteInFlight = true;
        PersistAsync(new MessagesEnqueued(stored), written =>
        {
            _stragglerRewriteInFlight = false;
            _ledger.Rewritten(written.Messages.Select(m => m.Id), batchSeq, LastSequenceNr);

            _log.Debug("queue '{0}': re-wrote {1} long-lived message(s) so the journal can be compacted", _name, stored.Count);
        });
    }

    /// <summary>Starts the next watermark write early, so deliveries rarely wait for one.</summary>
    private void PrepareWatermark(long deliveredId)
    {
        if (Durable && !_watermarkInFlight && deliveredId > _state!.DeliverableUpTo - WatermarkMargin / 2)
        {
            RaiseWatermark(deliveredId);
        }
    }

    /// <summary>Writes a watermark above <paramref name="id"/>; deliveries and gets waiting for it go on once it is written.</summary>
    private void RaiseWatermark(long id)
    {
        if (_watermarkInFlight)
        {
            return;
        }

        _watermarkInFlight = true;
        long target = Math.Max(id, _state!.DeliverableUpTo) + WatermarkMargin;
        PersistAsync(new DeliveryWatermark(target), _ =>
        {
            _watermarkInFlight = false;
            if (_state is not null)
            {
                _state.WatermarkWritten(target, Tick());
                var gets = _getsAfterWatermark.ToArray();
                _getsAfterWatermark.Clear();
                foreach (var (cmd, replyTo) in gets)
                {
                    GetNow(cmd, replyTo);
                }
            }

            AfterWrite();
        });
    }

    /// <summary>Shutdown: write the batches and answer once the journal has everything.</summary>
    private void FlushAndReply()
    {
        _flushWaiters.Add(Sender);
        WriteBatches();
        Compact();
        ReplyIfFlushed();
    }

    /// <summary>
    /// Hand-off to another node (rebalance, or this node leaving): first every node learns that
    /// the queue is unavailable (channels then nack publishes to it and answer 404 to consumers at
    /// once instead of sending to an actor about to stop), then it finishes its journal writes and
    /// stops; its next incarnation registers with a newer version.
    /// </summary>
    private void BeginStop()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        if (_definition is { } def && Durable)
        {
            var announced = _broker.Topology.Replicate(new Topology.QueueChanged(def, ActorRefs.Nobody, _ownerConnectionId, NextVersion()));
            BrokerContext.TellWhenDone(announced, Self, StopAnnounced.Instance, Self);
            return;
        }

        StopAfterFlush();
    }

    /// <summary>
    /// The queue stops only once what it batched is in the journal, so its next incarnation
    /// recovers every confirmed message; a PoisonPill would stop it in the middle of a write.
    /// </summary>
    private void StopAfterFlush()
    {
        if (!Durable)
        {
            StopReleasing();
            return;
        }

        _flushWaiters.Add(ActorRefs.Nobody);
        WriteBatches();
        ReplyIfFlushed();
    }

    /// <summary>Answers shutdown flushes once no batch is waiting (DeferAsync runs after every write in flight).</summary>
    private void ReplyIfFlushed()
    {
        if (_flushWaiters.Count == 0 || _enqueueBatch.Count > 0 || _ledger.PendingRemovals > 0)
        {
            return;
        }

        var waiters = _flushWaiters.ToArray();
        _flushWaiters.Clear();
        DeferAsync(JournalFlushed.Instance, done =>
        {
            foreach (var w in waiters)
            {
                w.Tell(done);
            }

            if (_stopping)
            {
                StopReleasing();
            }
        });
    }

    /// <summary>Drops what is batched and not yet written (the queue is being deleted); its publishers get basic.nack.</summary>
    private void DropBatches(string reason)
    {
        Nack(_enqueueConfirms, reason);
        _ledger.DropUnissued();
        _enqueueConfirms.Clear();
        _enqueueBatch.Clear();
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause,
            "queue '{0}' in vhost '{1}': journal write failed ({2}); unconfirmed publishes get basic.nack and the queue restarts from the journal",
            _name, _vhost, cause.GetBaseException().Message);
        NackUnwritten(cause.GetBaseException().Message);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    /// <summary>
    /// A rejected write runs no callback, so the batching and watermark bookkeeping would stall:
    /// handled like a failed write (nack, stop, be restarted from the journal).
    /// </summary>
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "queue '{0}' in vhost '{1}': journal rejected a write ({2}); unconfirmed publishes get basic.nack and the queue restarts from the journal",
            _name, _vhost, cause.GetBaseException().Message);
        NackUnwritten(cause.GetBaseException().Message);
        Context.Stop(Self);
    }

    private void NackUnwritten(string reason)
    {
        foreach (var confirms in _confirmsInFlight)
        {
            Nack(confirms, reason);
        }

        Nack(_enqueueConfirms, reason);

        _confirmsInFlight.Clear();
        _enqueueConfirms.Clear();
    }

    private void Nack(IEnumerable<(IActorRef Channel, long ConfirmId)> confirms, string reason)
    {
        foreach (var (channel, confirmId) in confirms)
        {
            channel.Tell(new EnqueueFailed(Self, confirmId, reason), Self);
        }
    }

    private sealed class TopologyRecovered : INoSerializationVerificationNeeded
    {
        public static readonly TopologyRecovered Instance = new();
    }

    private sealed class JournalTick : INoSerializationVerificationNeeded
    {
        public static readonly JournalTick Instance = new();
    }

    private sealed class StopAnnounced : INoSerializationVerificationNeeded
    {
        public static readonly StopAnnounced Instance = new();
    }
}
