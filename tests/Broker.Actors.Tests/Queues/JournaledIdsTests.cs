using Broker.Actors.Queues;

namespace Broker.Actors.Tests.Queues;

/// <summary>JournaledIds against a plain dictionary of id to row, under the ways a queue writes and recovers.</summary>
public class JournaledIdsTests
{
    /// <summary>
    /// Random enqueue rows (ascending ids, some skipped as transient ones are), removals in any
    /// order, rewrites of an old row's live ids into a new row, and starts from a recovery in
    /// journal order (rewritten ids come back with their later row, out of id order).
    /// </summary>
    [Fact]
    public void Random_rows_removals_and_rewrites_agree_with_a_dictionary()
    {
        for (int seed = 0; seed < 300; seed++)
        {
            var rng = new Random(seed);
            var ids = new JournaledIds();
            var model = new Dictionary<long, long>();
            long nextId = 1 + rng.Next(200), row = 0;

            if (rng.Next(2) == 0)
            {
                // Recovered: rows with runs of ids, and a later row holding a few low ids written again.
                var recovered = new List<(long Id, long Row)>();
                for (int r = 0; r < 20; r++)
                {
                    row += 1 + rng.Next(3);
                    for (int k = rng.Next(1, 10); k > 0; k--)
                    {
                        recovered.Add((nextId, row));
                        nextId += 1 + rng.Next(2);
                    }
                }

                row++;
                foreach (int i in Enumerable.Range(0, recovered.Count).Where(_ => rng.Next(8) == 0).ToList())
                {
                    recovered[i] = (recovered[i].Id, row);
                }

                foreach (var (id, r) in recovered.OrderBy(x => x.Row).ThenBy(x => x.Id))
                {
                    ids.Add(id, r);
                    model[id] = r;
                }
            }

            for (int step = 0; step < 400; step++)
            {
                switch (rng.Next(6))
                {
                    case 0:
                    case 1:
                        row += 1 + rng.Next(2);
                        for (int k = rng.Next(1, 8); k > 0; k--)
                        {
                            ids.Add(nextId, row);
                            model[nextId] = row;
                            nextId += 1 + rng.Next(2);
                        }

                        break;
                    case 2:
                    case 3 when model.Count > 0:
                        if (model.Count > 0)
                        {
                            long id = model.Keys.ElementAt(rng.Next(model.Count));
                            Assert.True(ids.Remove(id, out long at), $"seed {seed}: {id} not live");
                            Assert.Equal(model[id], at);
                            model.Remove(id);
                        }

                        break;
                    case 4 when model.Count > 0:
                        // A straggler rewrite: the oldest row's live ids into a new row.
                        long oldest = model.Values.Min();
                        var moving = ids.IdsIn(oldest);
                        Assert.Equal(model.Where(m => m.Value == oldest).Select(m => m.Key).Order(), moving.Order());
                        row++;
                        foreach (long id in moving)
                        {
                            ids.Remove(id, out _);
                            ids.Add(id, row);
                            model[id] = row;
                        }

                        break;
                    default:
                        long probe = nextId - rng.Next(1, 300);
                        Assert.Equal(model.TryGetValue(probe, out long expected), ids.TryGetRow(probe, out long actual));
                        Assert.Equal(expected, actual);
                        Assert.False(ids.Remove(nextId + 5, out _));
                        break;
                }

                if (model.Count > 0)
                {
                    ids.ForgetRowsBelow(model.Values.Min());
                }

                Assert.Equal(model.Count, ids.Count);
            }

            foreach (var (id, r) in model)
            {
                Assert.True(ids.TryGetRow(id, out long at), $"seed {seed}: {id} lost");
                Assert.Equal(r, at);
            }
        }
    }

    [Fact]
    public void A_deep_backlog_costs_bits_not_entries()
    {
        var ids = new JournaledIds();
        long before = GC.GetAllocatedBytesForCurrentThread();
        long id = 1;
        for (long row = 1; row <= 10_000; row++)
        {
            for (int k = 0; k < 100; k++)
            {
                ids.Add(id++, row);
            }
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(1_000_000, ids.Count);
        // A million ids: 125 KB of bits and 10,000 row entries (with the lists' doubling), not ~40 MB of dictionary.
        Assert.True(allocated < 4 << 20, $"{allocated} bytes allocated for a million ids");
        Assert.True(ids.TryGetRow(123_456, out long r) && r == 1235);
    }
}
