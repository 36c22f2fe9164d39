using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.Sql.Journal;
using Akka.Serialization;
using Akka.Util;

namespace Broker.Node.Journal;

/// <summary>
/// Akka.Persistence.Sql's journal with the broker's own write and read paths. The table layout
/// stays the plugin's, so its queries and tools read everything; reads (replay, highest sequence
/// number) go to a <see cref="JournalReader"/>, writes and deletes to a <see cref="JournalWriter"/>,
/// instead of the plugin's streams and linq2db: one connection, a prepared INSERT, group commit across every persistent
/// actor of the node. A confirm for one message in flight then waits for one small transaction and
/// not for the plugin's queueing, query building and per-write connection (docs/architecture.md,
/// "The journal's write path").
/// </summary>
public sealed class GroupCommitJournal : SqlWriteJournal
{
    private readonly JournalWriter _writer;
    private readonly JournalReader _reader;
    private readonly Akka.Serialization.Serialization _serialization;

    public GroupCommitJournal(Config journalConfig) : base(journalConfig)
    {
        _serialization = Context.System.Serialization;
        // The writer writes the plugin's "default" table mapping (tables journal and tags, the
        // column names of the plugin's JournalTableColumnNames) and no tags: JournalConfig sets
        // nothing else, and a change there must come here too.
        string mapping = journalConfig.GetString("table-mapping", "default");
        if (mapping != "default" || journalConfig.GetBoolean("delete-compatibility-mode", false))
        {
            throw new ConfigurationException("akka.persistence.journal.sql.table-mapping", null,
                $"is '{mapping}': the broker's journal writes only table-mapping = default, without delete-compatibility-mode");
        }

        string provider = journalConfig.GetString("provider-name"), connection = journalConfig.GetString("connection-string");
        string writerUuid = Guid.NewGuid().ToString("N");
        var dialect = JournalDialect.For(provider, connection, writerUuid);
        _reader = new JournalReader(dialect);
        _writer = new JournalWriter(dialect, Context.GetLogger(), Broker.Actors.Stats.JournalCommitCounters.For(Context.System),
            dialect.DeletesAlongsideWrites ? JournalDialect.For(provider, connection, writerUuid) : null);
    }

    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        long now = DateTime.UtcNow.Ticks;
        var rows = new List<JournalRecord>();
        ImmutableList<Exception>.Builder? rejections = null;
        int index = 0;
        foreach (var write in messages)
        {
            int first = rows.Count;
            try
            {
                foreach (var representation in (IImmutableList<IPersistentRepresentation>)write.Payload)
                {
                    rows.Add(Serialize(representation, now));
                }

                rejections?.Add(null!);
            }
            catch (Exception e)
            {
                // The plugin's contract: a write that cannot be serialized is rejected (the actor
                // is told, and goes on), none of its events is written, and the others of the
                // request are.
                rows.RemoveRange(first, rows.Count - first);
                rejections ??= Enumerable.Repeat<Exception>(null!, index).ToImmutableList().ToBuilder();
                rejections.Add(e);
            }

            index++;
        }

        return _writer.Write(new PendingWrite(rows, rejections?.ToImmutable()))!;
    }

    private JournalRecord Serialize(IPersistentRepresentation p, long now)
    {
        if (p.Payload is Tagged)
        {
            throw new NotSupportedException("the broker's journal does not write tagged events");
        }

        var payload = p.Payload;
        var serializer = _serialization.FindSerializerForType(payload.GetType());
        string manifest = serializer switch
        {
            SerializerWithStringManifest withManifest => withManifest.Manifest(payload),
            { IncludeManifest: true } => payload.GetType().TypeQualifiedName(),
            _ => string.Empty,
        };
        // As the plugin does: actor references inside a payload serialize with this system's address.
        byte[] bytes = Akka.Serialization.Serialization.WithTransport(_serialization.System, (serializer, payload),
            state => state.serializer.ToBinary(state.payload));
        return new JournalRecord(p.PersistenceId, p.SequenceNr, p.Timestamp == 0 ? now : p.Timestamp, bytes, manifest, serializer.Identifier);
    }

    protected override Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr, CancellationToken cancellationToken) => _writer.Delete(persistenceId, toSequenceNr);

    /// <summary>
    /// Replay through the broker's own reader (plain SQL, the plugin's semantics), on a pool thread:
    /// the journal actor goes on with writes and other replays meanwhile.
    /// </summary>
    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback) =>
        Task.Run(() => _reader.Replay(persistenceId, fromSequenceNr, toSequenceNr, max, row => recoveryCallback(Deserialize(persistenceId, row))));

    /// <summary>As the plugin deserializes a row (rows it wrote before it recorded serializer ids carry a type name as manifest).</summary>
    private Persistent Deserialize(string persistenceId, JournalReader.Row row)
    {
        object payload;
        if (row.SerializerId is { } id)
        {
            payload = _serialization.Deserialize(row.Message, id, row.Manifest);
        }
        else
        {
            var type = Type.GetType(row.Manifest, throwOnError: true)!;
            payload = _serialization.FindSerializerForType(type).FromBinary(row.Message, type);
        }

        return new Persistent(payload, row.SequenceNr, persistenceId, row.Manifest, false, ActorRefs.NoSender, row.WriterUuid, row.Created);
    }

    /// <summary>A recovering actor learns its highest sequence number only after its earlier incarnation's writes are in.</summary>
    public override async Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
    {
        await _writer.Barrier();
        return await Task.Run(() => _reader.HighestSequenceNr(persistenceId, fromSequenceNr), cancellationToken);
    }

    protected override void PostStop()
    {
        _writer.Dispose();
        _reader.Dispose();
        base.PostStop();
    }
}
