using Broker.Protocol;

namespace Broker.Actors.Queues;

/// <summary>
/// A queue's decisions, as a pure synchronous state machine (in the spirit of RabbitMQ's
/// rabbit_fifo): commands come in with the time, the state changes, and what must happen outside
/// (journal, deliver, dead-letter, wake up later) goes out through IQueueEffects in order. No
/// actor, clock, timer or I/O in here: QueueActor is the glue, and tests drive this directly.
/// - ready messages by priority and id (ReadyMessages); unacked ones by id, with the channel
///   holding them; consumers with their credit (QueueState.Consumers.cs);
/// - limits (x-max-length, x-max-length-bytes with x-overflow), expiry at the head (x-message-ttl,
///   per-message expiration), returns counted against x-delivery-limit;
/// - the delivery watermark: a persistent message of a durable queue is handed out only once a
///   journaled watermark covers its id, so a crash marks it redelivered.
/// </summary>
internal sealed partial class QueueState<TChannel> where TChannel : class
{
    private readonly IQueueEffects<TChannel> _effects;
    private readonly ReadyMessages _ready;
    private long _nextId = 1;

    /// <summary>The expiry wake-up already asked for (long.MaxValue: none).</summary>
    private long _expiryDue = long.MaxValue;

    /// <summary>How soon an expiry that found deliveries held is tried again (ms).</summary>
    private const long HeldRecheckMs = 100;

    /// <summary>A delayed-message exchange's hidden queue: its messages by due time (ExpiresAt), then id.</summary>
    private readonly SortedSet<QueuedMessage>? _delayed;
    private readonly Dictionary<long, QueuedMessage>? _delayedById;

    /// <param name="pagedTail">Where ready messages over <paramref name="memoryBudget"/> bytes go (see ReadyMessages); null: all stay in memory.</param>
    public QueueState(QueueArguments arguments, bool journaled, IQueueEffects<TChannel> effects, IPagedTail? pagedTail = null, long memoryBudget = 0)
    {
        Arguments = arguments;
        Journaled = journaled;
        _effects = effects;
        _ready = new ReadyMessages(arguments.MaxPriority, pagedTail, memoryBudget);
        if (arguments.DelayFor is not null)
        {
            _delayed = new SortedSet<QueuedMessage>(Comparer<QueuedMessage>.Create((a, b) =>
                a.ExpiresAt != b.ExpiresAt ? a.ExpiresAt.CompareTo(b.ExpiresAt) : a.Id.CompareTo(b.Id)));
            _delayedById = new Dictionary<long, QueuedMessage>();
        }
    }

    public QueueArguments Arguments { get; private set; }

    /// <summary>A durable queue: its persistent messages are journaled, so their deliveries need the watermark.</summary>
    public bool Journaled { get; }

    /// <summary>The id the next message gets.</summary>
    public long NextId => _nextId;

    /// <summary>The highest id a written watermark covers.</summary>
    public long DeliverableUpTo { get; private set; }

    public int ReadyCount => _ready.Count + (_delayed?.Count ?? 0);

    /// <summary>Set by the owner while it may not hand messages out (its node's lease lapsed): nothing is delivered or got.</summary>
    public bool DeliveriesHeld { get; set; }

    public long ReadyBytes => _ready.Bytes;

    /// <summary>Ready messages paged out of memory.</summary>
    public int PagedCount => _ready.PagedCount;

    /// <summary>
    /// Takes a published message in, unless a reject-publish limit refuses it (null). Effects:
    /// Accepted, then whatever drop-head pushed out, then deliveries.
    /// </summary>
    public QueuedMessage? Publish(Message message, long now)
    {
        if (_delayed is not null)
        {
            return Delay(new QueuedMessage(_nextId++, message, expiresAt: now + DelayedMessages.DelayOf(message.Properties)), now);
        }

        if (Arguments.Overflow != Overflow.DropHead && IsFull(message.Body.Length))
        {
            if (Arguments.Overflow == Overflow.RejectPublishDlx && Arguments.DeadLetterExchange is not null)
            {
                _effects.DeadLettered(new QueuedMessage(0, message), DeathReason.MaxLength);
            }

            return null;
        }

        var m = new QueuedMessage(_nextId++, message, priority: PriorityOf(message), expiresAt: ExpiryOf(message, now));
        _ready.PushBack(m);
        _effects.Accepted(m);
        if (Arguments.Overflow == Overflow.DropHead)
        {
            DropHeadOverLimit();
        }

        // Delivers, and asks to be woken for the earliest expiry.
        DeliverReady(now);
        if (m.ExpiresAt != 0 && m.ExpiresAt <= now && _ready.Count > 0 && ReferenceEquals(_ready.PeekFront(), m))
        {
            // A TTL of 0: delivered at once if a consumer could take it, dead otherwise (as in RabbitMQ).
            _ready.PopFront();
            DeadLetter(m, DeathReason.Expired);
            AskForExpiry();
        }

        return m;
    }

    /// <summary>
    /// The settings changed (a policy was set or cleared). A new TTL applies to messages published
    /// from now on; new limits apply at once (drop-head pushes out what is over them). The priority
    /// levels and a delay queue's role stay as declared.
    /// </summary>
    public void Reconfigure(QueueArguments arguments, long now)
    {
        Arguments = arguments with
        {
            MaxPriority = Arguments.MaxPriority,
            DelayFor = Arguments.DelayFor,
            CountsDeliveries = Arguments.CountsDeliveries,
        };
        if (Arguments.Overflow == Overflow.DropHead)
        {
            DropHeadOverLimit();
        }

        AskForExpiry();
    }

    /// <summary>Timer: dead-letters the messages at the head that expired.</summary>
    public void Expire(long now)
    {
        _expiryDue = long.MaxValue;
        if (DeliveriesHeld)
        {
            // The node's lease lapsed: the queue may be served elsewhere by now, so nothing is
            // dead-lettered or released here; look again shortly.
            _expiryDue = now + HeldRecheckMs;
            _effects.ExpiryDue(_expiryDue);
            return;
        }

        if (_delayed is not null)
        {
            ReleaseDue(now);
            return;
        }

        ExpireHeads(now);
        // A message blocked behind an expired one (waiting for its watermark) may go now.
        DeliverReady(now);
    }

    /// <summary>queue.purge: drops every ready message (unacked ones stay). Returns how many.</summary>
    public int Purge()
    {
        int n = ReadyCount;
        while (_ready.Count > 0)
        {
            _effects.Removed(_ready.PopFront());
        }

        if (_delayed is not null)
        {
            foreach (var m in _delayed)
            {
                _effects.Removed(m);
            }

            _delayed.Clear();
            _delayedById!.Clear();
        }

        return n;
    }

    /// <summary>queue.delete: forgets everything, with no effects (the queue's journal goes as a whole).</summary>
    public void Clear()
    {
        _ready.Clear();
        _unacked.Clear();
        _consumers.Clear();
        _delayed?.Clear();
        _delayedById?.Clear();
    }

    /// <summary>Recovery: a journaled message, in id order.</summary>
    public QueuedMessage Restore(long id, Message message, long expiresAt, bool redelivered)
    {
        _nextId = Math.Max(_nextId, id + 1);
        if (_delayed is not null)
        {
            var delayed = new QueuedMessage(id, message, expiresAt: expiresAt);
            _delayed.Add(delayed);
            _delayedById![id] = delayed;
            return delayed;
        }

        var m = new QueuedMessage(id, message, redelivered, PriorityOf(message), expiresAt);
        _ready.PushBack(m);
        return m;
    }

    /// <summary>
    /// Recovery: journaled messages left in their journal rows, in id order, as the queue's paged
    /// tail (the tail given to this state reads them back). False, with nothing added, if this queue
    /// keeps its messages in memory (priorities, delayed messages, no budget): the caller restores
    /// them with <see cref="Restore"/> instead.
    /// </summary>
    public bool RestorePaged(IReadOnlyList<RecoveredEntry> entries)
    {
        if (_delayed is not null || entries.Count == 0 || !_ready.TryAddPaged(entries[0].Size, entries[0].ExpiresAt))
        {
            return false;
        }

        for (int i = 1; i < entries.Count; i++)
        {
            _ready.TryAddPaged(entries[i].Size, entries[i].ExpiresAt);
        }

        _nextId = Math.Max(_nextId, entries[^1].Id + 1);
        _ready.PageInHead();
        return true;
    }

    /// <summary>Recovery: counters from the journal. New ids start above the watermark, so none is taken for a redelivery.</summary>
    public void RestoreCounters(long nextId, long watermark)
    {
        DeliverableUpTo = Math.Max(DeliverableUpTo, watermark);
        _nextId = Math.Max(Math.Max(_nextId, nextId), watermark + 1);
    }

    /// <summary>Recovery is complete: expired messages at the head go now, and the next expiry is asked for.</summary>
    public void Recovered(long now) => Expire(now);

    /// <summary>A watermark up to this id is in the journal.</summary>
    public void WatermarkWritten(long upTo, long now)
    {
        DeliverableUpTo = Math.Max(DeliverableUpTo, upTo);
        DeliverReady(now);
    }

    /// <summary>A ready or unacked message in memory by id (compaction re-writes long-lived ones); null for a paged one.</summary>
    public QueuedMessage? FindLive(long id) =>
        _unacked.TryGetValue(id, out var u) ? u.Message
        : _delayedById is not null && _delayedById.TryGetValue(id, out var d) ? d
        : _ready.FindById(id);

    /// <summary>A message for a delayed-message exchange: held until due (at once if its delay is 0).</summary>
    private QueuedMessage Delay(QueuedMessage m, long now)
    {
        _delayed!.Add(m);
        _delayedById![m.Id] = m;
        _effects.Accepted(m);
        ReleaseDue(now);
        return m;
    }

    /// <summary>Hands over the delayed messages that fell due, and asks to be woken for the next.</summary>
    private void ReleaseDue(long now)
    {
        while (_delayed!.Count > 0 && _delayed.Min!.ExpiresAt <= now)
        {
            var m = _delayed.Min;
            _delayed.Remove(m);
            _delayedById!.Remove(m.Id);
            _effects.Due(m);
        }

        if (_delayed.Count > 0 && _delayed.Min!.ExpiresAt < _expiryDue)
        {
            _expiryDue = _delayed.Min.ExpiresAt;
            _effects.ExpiryDue(_expiryDue);
        }
    }

    private bool MayDeliver(QueuedMessage m) => !Journaled || !m.Message.Persistent || m.Id <= DeliverableUpTo;

    /// <summary>reject-publish: a message that would take the queue over a limit is refused (RabbitMQ counts its body too).</summary>
    private bool IsFull(int size) =>
        _ready.Count >= Arguments.MaxLength || _ready.Bytes + size > Arguments.MaxLengthBytes;

    private void DropHeadOverLimit()
    {
        while (_ready.Count > 0 && (_ready.Count > Arguments.MaxLength || _ready.Bytes > Arguments.MaxLengthBytes))
        {
            DeadLetter(_ready.PopFront(), DeathReason.MaxLength);
        }
    }

    /// <summary>Dead-letters the expired heads of every level. Returns how many.</summary>
    private int ExpireHeads(long now)
    {
        int n = 0;
        while (_ready.Expiring > 0 && _ready.PopExpiredFront(now) is { } m)
        {
            DeadLetter(m, DeathReason.Expired);
            n++;
        }

        return n;
    }

    /// <summary>Asks to be woken when the earliest head expires, unless an earlier wake-up is due.</summary>
    private void AskForExpiry()
    {
        if (_ready.Expiring == 0)
        {
            return;
        }

        long at = _ready.EarliestFrontExpiry();
        if (at != long.MaxValue && at + 1 < _expiryDue)
        {
            // Expired means strictly past its time (a TTL of 0 still reaches a waiting consumer).
            _expiryDue = at + 1;
            _effects.ExpiryDue(at + 1);
        }
    }

    /// <summary>Dead-letters a message if the queue has a dead-letter exchange; drops it otherwise.</summary>
    private void DeadLetter(QueuedMessage m, DeathReason reason)
    {
        if (Arguments.DeadLetterExchange is null)
        {
            _effects.Removed(m);
        }
        else
        {
            _effects.DeadLettered(m, reason);
        }
    }

    private byte PriorityOf(Message message) =>
        Arguments.MaxPriority == 0 ? (byte)0 : Math.Min(message.Priority ?? 0, Arguments.MaxPriority);

    /// <summary>The lower of the queue's TTL and the message's expiration, from now; 0 for none.</summary>
    private long ExpiryOf(Message message, long now)
    {
        long? ttl = Arguments.MessageTtl;
        if (message.Expiration is { } expiration && MessageExpiration.TryParse(expiration, out long ms))
        {
            ttl = ttl is { } q ? Math.Min(q, ms) : ms;
        }

        return ttl is { } t ? now + t : 0;
    }
}
