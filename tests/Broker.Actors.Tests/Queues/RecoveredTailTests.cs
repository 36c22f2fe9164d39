using System.Text;
using Broker.Actors.Queues;
using Broker.Protocol;

namespace Broker.Actors.Tests.Queues;

/// <summary>
/// A recovered queue's backlog stays in its journal rows (RecoveredTail): QueueState counts it,
/// reads back only the head at recovery, then the rest a batch of consecutive rows at a time as it
/// is taken, in id order (a straggler written again in a later row included), with the redelivered
/// flags the recovery gives, and messages published after the restart come after all of it.
/// </summary>
public sealed class RecoveredTailTests
{
    private const long T0 = 1_000_000;
    private const int Messages = 1000, PerRow = 10, BodySize = 100;

    private readonly Dictionary<long, List<StoredMessage>> _rows = new();
    private readonly List<(long From, long To)> _reads = new();
    private readonly RecordingEffects _effects = new();

    private static byte[] BodyOf(long id) => Encoding.ASCII.GetBytes($"body {id:D6} ".PadRight(BodySize, '.'));

    /// <summary>Ids 1..1000 ten to a row from row 1, except id 5, written again alone in row 150 (a straggler).</summary>
    private RecoveredEntry[] Journal()
    {
        var entries = new List<RecoveredEntry>();
        for (long id = 1; id <= Messages; id++)
        {
            long row = id == 5 ? 150 : (id - 1) / PerRow + 1;
            var props = ContentHeader.EncodeProperties(new BasicProperties { DeliveryMode = 2 });
            var stored = new StoredMessage(id, "", "q", props, BodyOf(id));
            if (!_rows.TryGetValue(row, out var list))
            {
                _rows[row] = list = new List<StoredMessage>();
            }

            list.Add(stored);
            entries.Add(new RecoveredEntry(id, row, BodySize, 0));
        }

        return entries.ToArray();
    }

    private void ReadRows(long from, long to, Action<StoredMessage> message)
    {
        _reads.Add((from, to));
        for (long row = from; row <= to; row++)
        {
            foreach (var m in _rows.GetValueOrDefault(row) ?? [])
            {
                message(m);
            }
        }
    }

    private static QueuedMessage Restore(StoredMessage m) =>
        new(m.Id, new Message(m.Exchange, m.RoutingKey, ContentHeader.DecodeProperties(m.RawProperties), m.RawProperties, m.Body),
            redelivered: m.Id <= 300);

    [Fact]
    public void A_recovered_backlog_is_read_back_from_its_rows_a_batch_at_a_time_in_id_order()
    {
        var entries = Journal();
        var tail = new RecoveredTail(entries, ReadRows, Restore, next: new MemoryTail());
        var q = new QueueState<string>(QueueArguments.None, journaled: true, _effects, tail, memoryBudget: 4000);

        Assert.True(q.RestorePaged(entries));
        q.RestoreCounters(Messages + 1, watermark: 5000);

        Assert.Equal(Messages, q.ReadyCount);
        // Only the head was read: 2,000 bytes (half the budget), rows 1 and 2 and the straggler's row.
        Assert.Equal([(1L, 2L), (150L, 150L)], _reads);
        Assert.Equal(Messages - 20, q.PagedCount);

        var late = q.Publish(QueueStateTests.Msg("late", persistent: true), T0)!;
        Assert.True(late.Id > Messages);
        q.WatermarkWritten(late.Id, T0);

        for (long id = 1; id <= Messages; id++)
        {
            var m = q.Get("ch", noAck: true, T0, out bool wait)!;
            Assert.False(wait);
            Assert.Equal(id, m.Id);
            Assert.Equal(BodyOf(id), m.Message.Body);
            Assert.Equal(id <= 300, m.Redelivered);
        }

        Assert.Equal(late.Id, q.Get("ch", noAck: true, T0, out _)!.Id);
        Assert.Null(q.Get("ch", noAck: true, T0, out _));
        Assert.Equal(0, q.ReadyCount);
        // Batches of consecutive rows, never the whole journal at once.
        Assert.All(_reads, r => Assert.True(r.To - r.From < 3, $"read rows {r.From}-{r.To} at once"));
        Assert.Equal(100, _reads.Where(r => r.From != 150).Sum(r => r.To - r.From + 1));
    }

    [Fact]
    public void A_queue_that_does_not_page_gets_nothing_added_paged()
    {
        var entries = Journal();
        var tail = new RecoveredTail(entries, ReadRows, Restore, next: null);
        var t = new FieldTable { ["x-max-priority"] = 5 };
        var q = new QueueState<string>(QueueArguments.Parse(t, "/", "q", "classic"), journaled: true, _effects, tail, memoryBudget: 4000);

        Assert.False(q.RestorePaged(entries));
        Assert.Equal(0, q.ReadyCount);
        Assert.Empty(_reads);
    }

    /// <summary>Messages paged after the recovered ones (the queue's page file, in memory here).</summary>
    private sealed class MemoryTail : IPagedTail
    {
        private readonly Queue<QueuedMessage> _messages = new();

        public bool TryAppend(QueuedMessage message)
        {
            _messages.Enqueue(message);
            return true;
        }

        public void ReadNext(long maxBytes, List<QueuedMessage> into)
        {
            long read = 0;
            while (_messages.Count > 0 && (into.Count == 0 || read < maxBytes))
            {
                var m = _messages.Dequeue();
                read += m.Size;
                into.Add(m);
            }
        }

        public void Clear() => _messages.Clear();
    }
}
