using Broker.Actors.Queues;

namespace Broker.Actors.Tests.Queues;

/// <summary>The journal bookkeeping of a durable queue, without an actor or a journal.</summary>
public class JournalLedgerTests
{
    [Fact]
    public void A_removal_is_not_written_before_the_enqueue_of_its_message_was_handed_to_the_journal()
    {
        var l = new JournalLedger();
        l.Enqueued(1);
        Assert.True(l.Removed(1));
        Assert.Empty(l.TakeWritableRemovals());
        l.EnqueueBatchIssued();
        Assert.Equal(new[] { 1L }, l.TakeWritableRemovals());
        // Written after its removal: it never counts as live.
        l.EnqueuesWritten(new[] { 1L }, row: 5);
        Assert.Equal(0, l.Live);
    }

    [Fact]
    public void A_message_that_never_reached_the_journal_needs_no_removal()
    {
        var l = new JournalLedger();
        Assert.False(l.Removed(42));
        Assert.Equal(0, l.PendingRemovals);
    }

    [Fact]
    public void Compaction_cuts_below_the_oldest_row_with_a_live_message()
    {
        var l = new JournalLedger();
        l.Recovered(1, row: 3);
        l.Recovered(2, row: 7);
        Assert.Equal(2, l.CompactionCut(lastRow: 10));
        l.Removed(1);
        Assert.Equal(6, l.CompactionCut(lastRow: 10));
        l.Removed(2);
        Assert.Equal(10, l.CompactionCut(lastRow: 10));
    }

    [Fact]
    public void An_old_row_with_few_live_messages_is_a_straggler_and_moves_when_rewritten()
    {
        var l = new JournalLedger();
        l.Recovered(1, row: 2);
        l.Recovered(2, row: 2);
        l.Recovered(3, row: 400);
        Assert.Null(l.StragglerRow(lastRow: 200, distance: 256, maxMessages: 1000));
        Assert.Null(l.StragglerRow(lastRow: 500, distance: 256, maxMessages: 1));
        Assert.Equal(2, l.StragglerRow(lastRow: 500, distance: 256, maxMessages: 1000));
        Assert.Equal(new[] { 1L, 2L }, l.LiveIn(2).Order());

        // Message 2 was acked while the rewrite was in flight: only 1 moves.
        l.Removed(2);
        l.Rewritten(new[] { 1L, 2L }, oldRow: 2, newRow: 501);
        Assert.Equal(399, l.CompactionCut(lastRow: 501));
        Assert.Equal(new[] { 1L }, l.LiveIn(501));
    }

    [Fact]
    public void The_rows_at_the_head_of_a_deep_backlog_are_not_stragglers_while_the_rows_behind_them_are_live()
    {
        var l = new JournalLedger();
        long id = 1;
        for (long row = 1; row <= 1000; row++)
        {
            l.EnqueuesWritten(Enumerable.Range(0, 10).Select(_ => id++).ToList(), row);
        }

        // A consumer took most of the head row: the rows behind it are still live.
        for (long taken = 1; taken <= 9; taken++)
        {
            l.Removed(taken);
        }

        Assert.Null(l.StragglerRow(lastRow: 1000, distance: 256, maxMessages: 1000));

        // Everything up to row 300 settled but message 10 (row 1): now it pins the journal alone.
        for (long taken = 11; taken <= 3000; taken++)
        {
            l.Removed(taken);
        }

        Assert.Equal(1, l.StragglerRow(lastRow: 1000, distance: 256, maxMessages: 1000));
    }

    [Fact]
    public void A_replay_follows_the_journal_a_message_written_again_is_in_its_later_row_and_removals_need_no_write()
    {
        var l = new JournalLedger();
        l.Recovered(1, row: 2);
        l.Recovered(2, row: 2);
        l.Recovered(3, row: 3);
        l.RecoveredRemoval(3);
        // Row 9 holds message 1 written again (a straggler).
        l.Recovered(1, row: 9);

        Assert.Equal(2, l.Live);
        Assert.Equal(new[] { 2L }, l.LiveIn(2));
        Assert.Equal(new[] { 1L }, l.LiveIn(9));
        Assert.Equal(0, l.PendingRemovals);
        Assert.Equal(1, l.CompactionCut(lastRow: 10));
    }

    [Fact]
    public void A_dropped_batch_is_forgotten_with_the_pending_removals()
    {
        var l = new JournalLedger();
        l.Enqueued(1);
        l.Enqueued(2);
        l.Removed(1);
        l.DropUnissued();
        Assert.Equal(0, l.PendingRemovals);
        Assert.False(l.Removed(2));
    }

    /// <summary>
    /// Random enqueues, removals, batch issues and writes: a removal is never handed out before
    /// the enqueue of its message, none is handed out twice, and the live count is what was written
    /// and not removed.
    /// </summary>
    [Fact]
    public void Random_operations_keep_removals_behind_their_enqueues()
    {
        for (int seed = 0; seed < 200; seed++)
        {
            var rng = new Random(seed);
            var l = new JournalLedger();
            var gathering = new List<long>();
            var inFlight = new Queue<List<long>>();
            var issued = new HashSet<long>();
            var written = new HashSet<long>();
            var removed = new HashSet<long>();
            var removalsOut = new HashSet<long>();
            long nextId = 1, row = 0;
            for (int step = 0; step < 300; step++)
            {
                switch (rng.Next(5))
                {
                    case 0:
                        l.Enqueued(nextId);
                        gathering.Add(nextId++);
                        break;
                    case 1 when gathering.Count > 0:
                        l.EnqueueBatchIssued();
                        issued.UnionWith(gathering);
                        inFlight.Enqueue(gathering.ToList());
                        gathering.Clear();
                        break;
                    case 2 when inFlight.Count > 0:
                        var batch = inFlight.Dequeue();
                        l.EnqueuesWritten(batch, ++row);
                        written.UnionWith(batch);
                        break;
                    case 3:
                        var candidates = Enumerable.Range(1, (int)nextId - 1).Select(i => (long)i).Where(i => !removed.Contains(i)).ToList();
                        if (candidates.Count > 0)
                        {
                            long id = candidates[rng.Next(candidates.Count)];
                            removed.Add(id);
                            Assert.True(l.Removed(id), $"seed {seed}: removal of {id} not journaled");
                        }

                        break;
                    default:
                        foreach (var id in l.TakeWritableRemovals())
                        {
                            Assert.True(issued.Contains(id), $"seed {seed}: removal of {id} before its enqueue was issued");
                            Assert.True(removalsOut.Add(id), $"seed {seed}: removal of {id} handed out twice");
                        }

                        break;
                }

                Assert.Equal(written.Count(id => !removed.Contains(id)), l.Live);
            }
        }
    }
}
