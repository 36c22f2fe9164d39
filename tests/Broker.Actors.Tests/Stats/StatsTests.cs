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
    public void Exchange_counters_are_shared_by_name_and_safe_for_many_writers()
    {
        var registry = new StatsRegistry();
        Parallel.For(0, 8, _ =>
        {
            var counters = registry.Exchange("/", "orders");
            for (int i = 0; i < 10_000; i++)
            {
                counters.Add(MessageStat.PublishIn);
            }
        });
        Assert.Equal(80_000, registry.Exchange("/", "orders")[MessageStat.PublishIn]);
        registry.ForgetExchange("/", "orders");
        Assert.Equal(0, registry.Exchange("/", "orders")[MessageStat.PublishIn]);
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
