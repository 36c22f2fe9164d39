using Broker.Actors.Queues;
using Broker.Protocol;

namespace Broker.Actors.Tests.Queues;

/// <summary>The dead-lettered copy as RabbitMQ 3.10 writes it (measured: see the issue notes).</summary>
public class DeadLetterHeadersTests
{
    private static Message Msg(FieldTable? headers = null, string? expiration = null)
    {
        var p = new BasicProperties { Headers = headers, Expiration = expiration, DeliveryMode = 2 };
        return new Message("src-x", "rk", p, ContentHeader.EncodeProperties(p), new byte[] { 1 });
    }

    [Fact]
    public void The_first_death_adds_an_entry_and_the_first_death_headers()
    {
        var m = DeadLetterHeaders.Mark(Msg(new FieldTable { ["h"] = 1 }, expiration: "500"), DeathReason.Expired, "q", 1_700_000_000, "dlx", "rk");
        var h = m.Properties.Headers!;
        var entry = (FieldTable)((List<object?>)h["x-death"]!)[0]!;
        Assert.Equal(1L, entry["count"]);
        // Read back from the wire form, as a consumer gets them: long strings come back as bytes.
        Assert.Equal("expired", FieldValues.AsString(entry["reason"]));
        Assert.Equal("q", FieldValues.AsString(entry["queue"]));
        Assert.Equal(new AmqpTimestamp(1_700_000_000), entry["time"]);
        Assert.Equal("src-x", FieldValues.AsString(entry["exchange"]));
        Assert.Equal(new[] { "rk" }, ((List<object?>)entry["routing-keys"]!).Select(FieldValues.AsString));
        Assert.Equal("500", FieldValues.AsString(entry["original-expiration"]));
        Assert.Null(m.Properties.Expiration);
        Assert.Null(m.Expiration);
        Assert.Equal(1, h["h"]);
        Assert.Equal(("expired", "q", "src-x"),
            (FieldValues.AsString(h["x-first-death-reason"]), FieldValues.AsString(h["x-first-death-queue"]), FieldValues.AsString(h["x-first-death-exchange"])));
        Assert.Equal(("dlx", "rk"), (m.Exchange, m.RoutingKey));
    }

    [Fact]
    public void The_same_death_again_counts_up_and_moves_to_the_front()
    {
        var once = DeadLetterHeaders.Mark(Msg(), DeathReason.Rejected, "a", 1, "dlx", "rk");
        var other = DeadLetterHeaders.Mark(once, DeathReason.Rejected, "b", 2, "dlx", "rk");
        var again = DeadLetterHeaders.Mark(other, DeathReason.Rejected, "a", 3, "dlx", "rk");
        var deaths = (List<object?>)again.Properties.Headers!["x-death"]!;
        Assert.Equal(2, deaths.Count);
        Assert.Equal(("a", 2L), (FieldValues.AsString(((FieldTable)deaths[0]!)["queue"]), (long)((FieldTable)deaths[0]!)["count"]!));
        Assert.Equal("b", FieldValues.AsString(((FieldTable)deaths[1]!)["queue"]));
    }

    [Fact]
    public void Existing_first_death_headers_are_left_alone()
    {
        var m = DeadLetterHeaders.Mark(Msg(new FieldTable { ["x-first-death-reason"] = "fake", ["x-death"] = "not-an-array" }),
            DeathReason.Rejected, "q", 1, "dlx", "rk");
        var h = m.Properties.Headers!;
        Assert.Equal("fake", FieldValues.AsString(h["x-first-death-reason"]));
        Assert.False(h.ContainsKey("x-first-death-queue"));
        Assert.Single((List<object?>)h["x-death"]!);
    }

    [Fact]
    public void An_automatic_cycle_is_detected_and_a_rejection_breaks_it()
    {
        var expired = DeadLetterHeaders.Mark(Msg(), DeathReason.Expired, "q", 1, "", "q");
        Assert.True(DeadLetterHeaders.IsCycle(expired, "q"));
        Assert.False(DeadLetterHeaders.IsCycle(expired, "other"));
        var rejected = DeadLetterHeaders.Mark(Msg(), DeathReason.Rejected, "q", 1, "", "q");
        Assert.False(DeadLetterHeaders.IsCycle(rejected, "q"));
    }
}
