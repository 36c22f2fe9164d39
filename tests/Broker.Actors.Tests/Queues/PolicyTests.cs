using Broker.Actors.Policies;
using Broker.Actors.Queues;
using Broker.Actors.Topology;
using Broker.Protocol;

namespace Broker.Actors.Tests.Queues;

/// <summary>Which policy applies, and how its settings merge with a queue's own arguments (as RabbitMQ merges them).</summary>
public class PolicyTests
{
    private static Policy P(string name, string pattern, int priority = 0, string applyTo = Policy.All, params (string, object)[] definition)
    {
        var t = new FieldTable();
        foreach (var (k, v) in definition)
        {
            t[k] = v;
        }

        return new Policy("/", name, pattern, applyTo, priority, t);
    }

    [Fact]
    public void The_matching_policy_of_highest_priority_applies_to_its_kind()
    {
        var table = new PolicyTable();
        var v = TopologyVersion.FirstAfter(default);
        table.Apply(P("low", "^orders", 0, Policy.All, ("message-ttl", 1L)), v);
        table.Apply(P("high", "^orders\\.", 5, Policy.Queues, ("message-ttl", 2L)), v);
        table.Apply(P("x", "^orders\\.", 9, Policy.Exchanges, ("alternate-exchange", "ae")), v);
        Assert.Equal("high", table.For("/", "orders.eu", isQueue: true)!.Name);
        Assert.Equal("low", table.For("/", "orders", isQueue: true)!.Name);
        Assert.Equal("x", table.For("/", "orders.eu", isQueue: false)!.Name);
        Assert.Null(table.For("/", "invoices", isQueue: true));
        Assert.Null(table.For("/other", "orders.eu", isQueue: true));
    }

    [Fact]
    public void Limits_and_ttls_take_the_lower_value_and_the_queue_argument_wins_for_the_rest()
    {
        var declared = new FieldTable { ["x-message-ttl"] = 5000, ["x-dead-letter-exchange"] = "mine", ["x-overflow"] = "reject-publish" };
        var args = QueueArguments.Parse(declared, "/", "q", "classic");
        var policy = P("p", ".*", 0, Policy.All, ("message-ttl", 1000L), ("max-length", 10L), ("dead-letter-exchange", "theirs"),
            ("dead-letter-routing-key", "rk"), ("overflow", "drop-head"), ("expires", 60000L));
        var merged = args.WithPolicy(policy, declared);
        Assert.Equal(1000, merged.MessageTtl);
        Assert.Equal(10, merged.MaxLength);
        Assert.Equal(60000, merged.Expires);
        Assert.Equal("mine", merged.DeadLetterExchange);
        Assert.Equal("rk", merged.DeadLetterRoutingKey);
        Assert.Equal(Overflow.RejectPublish, merged.Overflow);

        var lower = QueueArguments.Parse(new FieldTable { ["x-message-ttl"] = 10 }, "/", "q", "classic").WithPolicy(policy, new FieldTable());
        Assert.Equal(10, lower.MessageTtl);
    }

    [Theory]
    [InlineData("max-priority", 5L, "'max-priority' cannot be set by a policy (use the x-max-priority queue argument)")]
    [InlineData("bogus", 1L, "'bogus' is not a recognised policy setting")]
    [InlineData("max-length", -1L, "'max-length' must be a non-negative integer")]
    [InlineData("dead-letter-exchange", 5L, "'dead-letter-exchange' must be a string")]
    [InlineData("overflow", "sometimes", "'overflow' must be drop-head, reject-publish or reject-publish-dlx, not 'sometimes'")]
    [InlineData("expires", 0L, "'expires' must be above 0")]
    public void Invalid_definitions_are_refused(string key, object value, string error)
    {
        Assert.Equal(error, P("p", ".*", 0, Policy.All, (key, value)).Validate());
    }

    [Fact]
    public void A_bad_pattern_or_apply_to_is_refused()
    {
        Assert.StartsWith("'(' is not a valid regular expression", P("p", "(", 0, Policy.All, ("max-length", 1L)).Validate());
        Assert.Equal("apply-to must be one of 'queues', 'exchanges' or 'all', not 'topics'",
            P("p", ".*", 0, "topics", ("max-length", 1L)).Validate());
    }

    [Fact]
    public void A_new_limit_pushes_out_what_is_over_it()
    {
        var effects = new RecordingEffects();
        var q = new QueueState<string>(QueueArguments.None, false, effects);
        for (int i = 0; i < 5; i++)
        {
            q.Publish(QueueStateTests.Msg(i.ToString()), 1000);
        }

        q.Reconfigure(QueueArguments.None.WithPolicy(P("p", ".*", 0, Policy.All, ("max-length", 2L)), new FieldTable()), 1000);
        Assert.Equal(2, q.ReadyCount);
        Assert.Equal(new long[] { 1, 2, 3 }, effects.Removed.Select(m => m.Id));
    }
}
