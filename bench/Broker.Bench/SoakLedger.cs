namespace Broker.Bench;

/// <summary>
/// What the soak's clients did, per producer slot: the slot's sequence numbers continue across
/// the incarnations a kill replaces, so one pair of bitmaps per slot accounts for every message.
/// A message counts as consumed when the ack that covers it has been sent, not when it arrived:
/// a consumer killed before acking loses nothing, and the broker has to deliver the message again.
/// </summary>
internal sealed class SoakLedger
{
    private readonly long[] _nextSeq;
    private long _published;
    private long _confirmed;
    private long _nacked;
    private long _delivered;
    private long _consumed;
    private long _duplicates;
    private long _unflagged;
    private long _redelivered;
    private long _invalid;

    public SoakLedger(int producerSlots)
    {
        _nextSeq = new long[producerSlots];
        Confirmed = new SeqBitmap[producerSlots];
        Consumed = new SeqBitmap[producerSlots];
        for (int i = 0; i < producerSlots; i++)
        {
            Confirmed[i] = new SeqBitmap();
            Consumed[i] = new SeqBitmap();
        }
    }

    /// <summary>Per slot: sequence numbers the broker confirmed.</summary>
    public SeqBitmap[] Confirmed { get; }

    /// <summary>Per slot: sequence numbers some consumer acked.</summary>
    public SeqBitmap[] Consumed { get; }

    public int Slots => _nextSeq.Length;

    public long Published => Volatile.Read(ref _published);
    public long ConfirmedCount => Volatile.Read(ref _confirmed);
    public long Nacked => Volatile.Read(ref _nacked);
    public long Delivered => Volatile.Read(ref _delivered);
    public long ConsumedCount => Volatile.Read(ref _consumed);

    /// <summary>Acks of a message that had been acked before (its first ack was lost with a killed connection, or a broker fault).</summary>
    public long Duplicates => Volatile.Read(ref _duplicates);

    /// <summary>Deliveries of an already acked message without the redelivered flag: the broker should always set it then.</summary>
    public long UnflaggedRedeliveries => Volatile.Read(ref _unflagged);

    public long Redelivered => Volatile.Read(ref _redelivered);
    public long Invalid => Volatile.Read(ref _invalid);

    /// <summary>The next unused sequence number of a slot (a replacement producer goes on from there).</summary>
    public long NextSeq(int slot) => Interlocked.Increment(ref _nextSeq[slot]) - 1;

    public void OnPublished() => Interlocked.Increment(ref _published);

    public void OnConfirmed(int slot, long seq)
    {
        Confirmed[slot].Set(seq);
        Interlocked.Increment(ref _confirmed);
    }

    public void OnNacked() => Interlocked.Increment(ref _nacked);

    /// <summary>Counts a delivery; false if its body does not name a slot and sequence number of this run.</summary>
    public bool OnDelivered(int slot, long seq, bool redelivered)
    {
        Interlocked.Increment(ref _delivered);
        if (redelivered)
        {
            Interlocked.Increment(ref _redelivered);
        }
        if ((uint)slot >= (uint)Slots || !SeqBitmap.InRange(seq))
        {
            Interlocked.Increment(ref _invalid);
            return false;
        }
        if (!redelivered && Consumed[slot].Contains(seq))
        {
            Interlocked.Increment(ref _unflagged);
        }
        return true;
    }

    public void OnAcked(int slot, long seq)
    {
        if (Consumed[slot].Set(seq))
        {
            Interlocked.Increment(ref _consumed);
        }
        else
        {
            Interlocked.Increment(ref _duplicates);
        }
    }

    /// <summary>Confirmed messages no consumer has acked (yet).</summary>
    public long Missing(Func<int, bool>? slotFilter = null)
    {
        long n = 0;
        for (int i = 0; i < Slots; i++)
        {
            if (slotFilter is null || slotFilter(i))
            {
                n += Confirmed[i].CountMissingFrom(Consumed[i]);
            }
        }
        return n;
    }
}
