namespace Broker.Actors;

/// <summary>A journal row as stored: its sequence number, serialized event, serializer id and manifest.</summary>
public delegate void JournalRowAction(long sequenceNr, byte[] message, int serializerId, string manifest);

/// <summary>
/// Reads rows of one persistence id back from the journal on demand (see Broker.Node's
/// Journal/JournalRows): a recovered queue reads the bodies of its backlog from the rows that hold
/// them as its consumers reach them, instead of keeping them all from the replay and writing them
/// to its page file again (RecoveredTail).
/// </summary>
public interface IJournalRows
{
    /// <summary>The rows of <paramref name="persistenceId"/> in [from, to] that are not marked deleted, in order, on the calling thread.</summary>
    void Read(string persistenceId, long fromSequenceNr, long toSequenceNr, JournalRowAction row);
}
