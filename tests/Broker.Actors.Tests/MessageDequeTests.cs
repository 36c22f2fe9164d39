using Broker.Actors.Queues;
using Broker.Protocol;

namespace Broker.Actors.Tests;

public class MessageDequeTests
{
    private static readonly Message Body = new("", "q",
        new ContentHeader(60, 0, new BasicProperties(), ContentHeader.EncodeProperties(new BasicProperties())), Array.Empty<byte>());

    private static QueuedMessage M(long id) => new(id, Body);

    private static List<long> Drain(MessageDeque d)
    {
        var ids = new List<long>();
        while (d.Count > 0)
        {
            ids.Add(d.PopFront().Id);
        }

        return ids;
    }

    private static IEnumerable<long> Range(long from, long toInclusive)
    {
        for (long i = from; i <= toInclusive; i++)
        {
            yield return i;
        }
    }

    [Fact]
    public void Empty_deque_has_no_messages()
    {
        var d = new MessageDeque();
        Assert.Equal(0, d.Count);
    }

    [Fact]
    public void Push_and_pop_are_fifo()
    {
        var d = new MessageDeque();
        foreach (var id in Range(1, 10))
        {
            d.PushBack(M(id));
        }

        Assert.Equal(10, d.Count);
        Assert.Equal(1, d.PeekFront().Id);
        Assert.Equal(1, d.PopFront().Id);
        Assert.Equal(2, d.PeekFront().Id);
        Assert.Equal(Range(2, 10), Drain(d));
    }

    [Fact]
    public void Grows_past_the_initial_64_slots()
    {
        var d = new MessageDeque();
        foreach (var id in Range(1, 1000))
        {
            d.PushBack(M(id));
        }

        Assert.Equal(1000, d.Count);
        Assert.Equal(Range(1, 1000), Drain(d));
    }

    [Fact]
    public void Grows_correctly_when_the_ring_has_wrapped()
    {
        var d = new MessageDeque();
        foreach (var id in Range(1, 60))
        {
            d.PushBack(M(id));
        }

        for (int i = 0; i < 50; i++)
        {
            d.PopFront();
        }

        // Head is now at slot 50: these wrap around the end of the array and then force growth.
        foreach (var id in Range(61, 200))
        {
            d.PushBack(M(id));
        }

        Assert.Equal(150, d.Count);
        Assert.Equal(Range(51, 200), Drain(d));
    }

    [Fact]
    public void Requeued_messages_go_back_to_the_front_in_id_order()
    {
        var d = new MessageDeque();
        foreach (var id in Range(1, 10))
        {
            d.PushBack(M(id));
        }

        var taken = new[] { d.PopFront(), d.PopFront(), d.PopFront() };
        // Returned out of order: 2, then 3, then 1.
        d.InsertById(taken[1]);
        d.InsertById(taken[2]);
        d.InsertById(taken[0]);
        Assert.Equal(10, d.Count);
        Assert.Equal(Range(1, 10), Drain(d));
    }

    [Fact]
    public void Requeued_message_goes_into_the_middle_by_id()
    {
        var d = new MessageDeque();
        foreach (var id in new long[] { 1, 2, 4, 5, 7 })
        {
            d.PushBack(M(id));
        }

        d.InsertById(M(3));
        d.InsertById(M(6));
        d.InsertById(M(8));
        Assert.Equal(new long[] { 1, 2, 3, 4, 5, 6, 7, 8 }, Drain(d));
    }

    [Fact]
    public void Requeue_into_an_empty_deque()
    {
        var d = new MessageDeque();
        d.InsertById(M(5));
        d.InsertById(M(3));
        d.InsertById(M(4));
        Assert.Equal(new long[] { 3, 4, 5 }, Drain(d));
    }

    [Fact]
    public void Requeue_into_a_full_wrapped_ring_grows_and_keeps_order()
    {
        var d = new MessageDeque();
        foreach (var id in Range(1, 64))
        {
            d.PushBack(M(id));
        }

        var popped = Enumerable.Range(0, 10).Select(_ => d.PopFront()).ToList();
        foreach (var id in Range(65, 74))
        {
            d.PushBack(M(id)); // fills the ring again, wrapped
        }

        Assert.Equal(64, d.Count);
        d.InsertById(popped[5]); // middle of the wrapped, full ring: must grow first
        d.InsertById(popped[0]);
        d.InsertById(popped[9]);
        var expected = new long[] { 1, 6, 10 }.Concat(Range(11, 74)).OrderBy(x => x);
        Assert.Equal(expected, Drain(d));
    }

    [Fact]
    public void Clear_returns_the_count_and_empties()
    {
        var d = new MessageDeque();
        foreach (var id in Range(1, 100))
        {
            d.PushBack(M(id));
        }

        d.PopFront();
        Assert.Equal(99, d.Clear());
        Assert.Equal(0, d.Count);
        Assert.Equal(0, d.Clear());

        d.PushBack(M(200));
        d.InsertById(M(150));
        Assert.Equal(new long[] { 150, 200 }, Drain(d));
    }

    [Fact]
    public void Matches_a_sorted_set_model_over_random_operations()
    {
        var rng = new Random(4242);
        var d = new MessageDeque();
        var model = new SortedSet<long>();
        var outside = new List<long>(); // popped ids that may be requeued
        long nextId = 1;
        int pops = 0, requeues = 0, clears = 0;

        for (int step = 0; step < 20000; step++)
        {
            int op = rng.Next(100);
            if (op < 45)
            {
                d.PushBack(M(nextId));
                model.Add(nextId);
                nextId++;
            }
            else if (op < 80)
            {
                if (model.Count > 0)
                {
                    long id = d.PopFront().Id;
                    Assert.Equal(model.Min, id);
                    model.Remove(id);
                    outside.Add(id);
                    pops++;
                }
            }
            else if (op < 99)
            {
                if (outside.Count > 0)
                {
                    int i = rng.Next(outside.Count);
                    long id = outside[i];
                    outside[i] = outside[^1];
                    outside.RemoveAt(outside.Count - 1);
                    d.InsertById(M(id));
                    model.Add(id);
                    requeues++;
                }
            }
            else
            {
                if (rng.Next(10) == 0)
                {
                    Assert.Equal(model.Count, d.Clear());
                    model.Clear();
                    outside.Clear();
                    clears++;
                }
            }

            Assert.Equal(model.Count, d.Count);
            if (model.Count > 0)
            {
                Assert.Equal(model.Min, d.PeekFront().Id);
            }
        }

        Assert.Equal(model.ToList(), Drain(d));
        Assert.True(pops > 1000 && requeues > 1000, $"pops {pops}, requeues {requeues}, clears {clears}");
    }
}
