using Broker.Actors.Stats;

namespace Broker.Actors.Tests.Stats;

/// <summary>The management's counters and rates: rates over the last samples, totals that survive closed channels, a bounded close list.</summary>
public sealed class StatsTests
{
    [Fact]
    public void A_rate_is_the_change_per_second_over_the_last_five_samples()
    {
        var counters = new MessageCounters();
        long now = 10_000;
        counters.Sample(now);
        Assert.Equal(0, counters.Rates[(int)MessageStat.Publish]);
        for (int second = 1; second <= 10; second++)
        {
            for (int i = 0; i < 100; i++)
            {
                counters.Increment(MessageStat.Publish);
            }

            counters.Sample(now + second * 1000);
        }

        Assert.Equal(100, counters.Rates[(int)MessageStat.Publish], 3);
        Assert.Equal(1000, counters[MessageStat.Publish]);

        // Traffic stops: the rate falls to zero once the window has passed.
        for (int second = 11; second <= 16; second++)
        {
            counters.Sample(now + second * 1000);
        }

        Assert.Equal(0, counters.Rates[(int)MessageStat.Publish]);
    }

    [Fact]
    public void Global_totals_keep_the_counts_of_channels_that_closed()
    {
        var registry = new StatsRegistry();
        var connection = new ConnectionStats("c", "127.0.0.1", 1, "127.0.0.1", 5672, false);
        var gone = new ChannelStats(connection, 1, "/", "guest");
        var live = new ChannelStats(connection, 2, "/", "guest");
        registry.Add(gone);
        registry.Add(live);
        gone.Counters.Increment(MessageStat.Publish);
        gone.Counters.Increment(MessageStat.Publish);
        live.Counters.Increment(MessageStat.Publish);
        live.Counters.Increment(MessageStat.Ack);
        registry.Sample(1000);
        Assert.Equal(3, registry.Global[MessageStat.Publish]);

        registry.Remove(gone);
        registry.Sample(2000);
        Assert.Equal(3, registry.Global[MessageStat.Publish]);
        Assert.Equal(1, registry.Global[MessageStat.Ack]);
        Assert.Equal(2, registry.Lifecycle.ChannelsOpened);
        Assert.Equal(1, registry.Lifecycle.ChannelsClosed);
        Assert.Single(registry.Channels);
    }

    [Fact]
    public void Exchange_counts_are_summed_over_the_channels_live_and_closed_and_forgotten_with_the_exchange()
    {
        var registry = new StatsRegistry();
        var connection = new ConnectionStats("c", "127.0.0.1", 1, "127.0.0.1", 5672, false);
        var a = new ChannelStats(connection, 1, "/", "guest");
        var b = new ChannelStats(connection, 2, "/", "guest");
        registry.Add(a);
        registry.Add(b);
        var fromA = a.ExchangePublishes.GetOrAdd("orders", _ => new long[2]);
        fromA[0] += 3;
        fromA[1] += 2;
        var fromB = b.ExchangePublishes.GetOrAdd("orders", _ => new long[2]);
        fromB[0] += 4;
        fromB[1] += 4;
        registry.Sample(1000);
        Assert.Equal(7, registry.Exchange("/", "orders")[MessageStat.PublishIn]);
        Assert.Equal(6, registry.Exchange("/", "orders")[MessageStat.PublishOut]);

        registry.Remove(a);
        registry.Sample(2000);
        Assert.Equal(7, registry.Exchange("/", "orders")[MessageStat.PublishIn]);

        // Deleted: the closed channel's share goes; a live channel's counts for the name remain its own.
        registry.ForgetExchange("/", "orders");
        registry.Sample(3000);
        Assert.Equal(4, registry.Exchange("/", "orders")[MessageStat.PublishIn]);
    }

    [Fact]
    public void The_recent_closes_are_bounded_and_keep_the_newest()
    {
        var closed = new ClosedConnections(capacity: 3);
        for (int i = 0; i < 5; i++)
        {
            closed.Add(new ClosedConnection($"c{i}", "u", "/", "::1", i, 320, "bye", i, "broker"));
        }

        Assert.Equal(["c2", "c3", "c4"], closed.Recent().Select(c => c.Name));
    }

    [Fact]
    public void The_journal_histogram_counts_each_write_in_its_bucket_and_cumulates()
    {
        var histogram = new JournalWriteHistogram();
        histogram.Observe(TimeSpan.FromMilliseconds(0.2));
        histogram.Observe(TimeSpan.FromMilliseconds(3));
        histogram.Observe(TimeSpan.FromSeconds(10));
        var (cumulative, sum) = histogram.Read();
        Assert.Equal(1, cumulative[0]); // <= 0.25 ms
        Assert.Equal(2, cumulative[Array.IndexOf(JournalWriteHistogram.Bounds, 0.005)]);
        Assert.Equal(2, cumulative[JournalWriteHistogram.Bounds.Length - 1]);
        Assert.Equal(3, cumulative[^1]);
        Assert.Equal(10.0032, sum, 3);
    }
}
