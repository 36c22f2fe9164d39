using Broker.Actors.Queues;
using Broker.Protocol;

namespace Broker.Actors.Tests.Queues;

/// <summary>The queue's decisions, one feature at a time, without an actor system.</summary>
public class QueueStateTests
{
    private const long T0 = 1_000_000;
    private readonly RecordingEffects _effects = new();

    internal static Message Msg(string body = "x", bool persistent = false, byte? priority = null, string? expiration = null)
    {
        var p = new BasicProperties { DeliveryMode = persistent ? (byte)2 : (byte)1, Priority = priority, Expiration = expiration };
        return new Message("", "q", p, ContentHeader.EncodeProperties(p), System.Text.Encoding.UTF8.GetBytes(body));
    }

    private QueueState<string> State(QueueArguments? args = null, bool journaled = false) =>
        new(args ?? QueueArguments.None, journaled, _effects);

    private static QueueArguments Args(params (string Key, object? Value)[] args)
    {
        var t = new FieldTable();
        foreach (var (k, v) in args)
        {
            t[k] = v;
        }

        return QueueArguments.Parse(t, "/", "q", "classic");
    }

    private static Consumer<string> C(string tag, string channel = "ch", bool noAck = false, ushort prefetch = 0, int priority = 0) =>
        new(tag, channel, noAck, exclusive: false, prefetch, window: 1000, priority);

    private List<string> Bodies() => _effects.Delivered.Select(d => System.Text.Encoding.UTF8.GetString(d.Message.Message.Body)).ToList();

    [Fact]
    public void Delivers_round_robin_in_publish_order()
    {
        var q = State();
        q.AddConsumer(C("a"), "q");
        q.DeliverReady(T0);
        q.AddConsumer(C("b"), "q");
        q.DeliverReady(T0);
        for (int i = 0; i < 4; i++)
        {
            q.Publish(Msg(i.ToString()), T0);
        }

        Assert.Equal(new[] { "0", "1", "2", "3" }, Bodies());
        Assert.Equal(2, _effects.Delivered.Count(d => d.Tag == "a"));
        Assert.Equal(2, _effects.Delivered.Count(d => d.Tag == "b"));
    }

    [Fact]
    public void Prefetch_limits_unacked_deliveries_and_an_ack_frees_room()
    {
        var q = State();
        q.AddConsumer(C("a", prefetch: 2), "q");
        q.DeliverReady(T0);
        for (int i = 0; i < 3; i++)
        {
            q.Publish(Msg(), T0);
        }

        Assert.Equal(2, _effects.Delivered.Count);
        q.Settle("ch", new[] { _effects.Delivered[0].Message.Id }, Settlement.Ack, T0);
        Assert.Equal(3, _effects.Delivered.Count);
        Assert.Single(_effects.Removed);
    }

    [Fact]
    public void Requeued_message_goes_back_to_its_place_marked_redelivered()
    {
        var q = State();
        q.Publish(Msg("1"), T0);
        q.Publish(Msg("2"), T0);
        var first = q.Get("ch", noAck: false, T0, out _)!;
        q.Settle("ch", new[] { first.Id }, Settlement.Requeue, T0);
        var again = q.Get("ch", noAck: true, T0, out _)!;
        Assert.Equal(first.Id, again.Id);
        Assert.True(again.Redelivered);
    }

    [Fact]
    public void A_settlement_from_another_channel_is_ignored()
    {
        var q = State();
        q.Publish(Msg(), T0);
        var m = q.Get("ch1", noAck: false, T0, out _)!;
        q.Settle("ch2", new[] { m.Id }, Settlement.Ack, T0);
        Assert.Equal(1, q.UnackedCount);
        Assert.Empty(_effects.Removed);
    }

    [Fact]
    public void A_lost_channel_returns_its_unacked_messages()
    {
        var q = State();
        q.AddConsumer(C("a", "ch1", prefetch: 1), "q");
        q.DeliverReady(T0);
        q.Publish(Msg("1"), T0);
        q.Publish(Msg("2"), T0);
        Assert.Equal(1, q.ChannelGone("ch1", T0));
        Assert.Equal(2, q.ReadyCount);
        q.AddConsumer(C("b", "ch2"), "q");
        q.DeliverReady(T0);
        Assert.Equal(new[] { "1", "1", "2" }, Bodies());
        Assert.True(_effects.Delivered[1].Message.Redelivered);
        Assert.False(_effects.Delivered[2].Message.Redelivered);
    }

    [Fact]
    public void Persistent_messages_of_a_journaled_queue_wait_for_the_watermark()
    {
        var q = State(journaled: true);
        q.AddConsumer(C("a"), "q");
        q.DeliverReady(T0);
        var m = q.Publish(Msg(persistent: true), T0)!;
        Assert.Empty(_effects.Delivered);
        Assert.Equal(new[] { m.Id }, _effects.WatermarksNeeded);
        q.WatermarkWritten(m.Id + 10, T0);
        Assert.Single(_effects.Delivered);
        // Transient messages do not come back after a crash, so they need none.
        q.Publish(Msg(persistent: false), T0);
        Assert.Equal(2, _effects.Delivered.Count);
    }

    [Fact]
    public void Held_deliveries_wait_until_released()
    {
        var q = State();
        q.AddConsumer(C("a"), "q");
        q.DeliverReady(T0);
        q.DeliveriesHeld = true;
        q.Publish(Msg(), T0);
        Assert.Null(q.Get("ch", true, T0, out _));
        Assert.Empty(_effects.Delivered);
        q.DeliveriesHeld = false;
        q.DeliverReady(T0);
        Assert.Single(_effects.Delivered);
    }

    [Fact]
    public void Nothing_expires_while_deliveries_are_held()
    {
        var q = State(Args(("x-message-ttl", 10), ("x-dead-letter-exchange", "dlx")));
        q.Publish(Msg(), T0);
        q.DeliveriesHeld = true;
        q.Expire(T0 + 50);
        Assert.Null(q.Get("ch", true, T0 + 50, out _));
        Assert.Empty(_effects.DeadLettered);
        Assert.Equal(T0 + 150, _effects.ExpiriesDue.Last());
        q.DeliveriesHeld = false;
        q.Expire(T0 + 150);
        Assert.Equal(DeathReason.Expired, Assert.Single(_effects.DeadLettered).Reason);
    }

    [Fact]
    public void Message_ttl_expires_at_the_head_and_asks_to_be_woken()
    {
        var q = State(Args(("x-message-ttl", 100)));
        q.Publish(Msg("1"), T0);
        q.Publish(Msg("2"), T0 + 50);
        Assert.Equal(new[] { T0 + 101 }, _effects.ExpiriesDue);
        q.Expire(T0 + 101);
        Assert.Single(_effects.Removed);
        Assert.Equal(1, q.ReadyCount);
        Assert.Equal(T0 + 151, _effects.ExpiriesDue.Last());
        q.Expire(T0 + 151);
        Assert.Equal(0, q.ReadyCount);
    }

    [Fact]
    public void The_lower_of_queue_ttl_and_message_expiration_applies()
    {
        var q = State(Args(("x-message-ttl", 1000)));
        Assert.Equal(T0 + 10, q.Publish(Msg(expiration: "10"), T0)!.ExpiresAt);
        Assert.Equal(T0 + 1000, q.Publish(Msg(expiration: "5000"), T0)!.ExpiresAt);
        var noTtl = State();
        Assert.Equal(0, noTtl.Publish(Msg(), T0)!.ExpiresAt);
        Assert.Equal(T0 + 7, noTtl.Publish(Msg(expiration: "7"), T0)!.ExpiresAt);
    }

    [Fact]
    public void Ttl_zero_reaches_a_waiting_consumer_and_dies_otherwise()
    {
        var q = State(Args(("x-message-ttl", 0), ("x-dead-letter-exchange", "dlx")));
        q.Publish(Msg("lost"), T0);
        Assert.Equal(DeathReason.Expired, Assert.Single(_effects.DeadLettered).Reason);
        q.AddConsumer(C("a"), "q");
        q.DeliverReady(T0);
        q.Publish(Msg("taken"), T0);
        Assert.Equal(new[] { "taken" }, Bodies());
    }

    [Fact]
    public void An_expired_message_is_not_delivered_or_got()
    {
        var q = State(Args(("x-message-ttl", 10)));
        q.Publish(Msg(), T0);
        Assert.Null(q.Get("ch", true, T0 + 11, out _));
        Assert.Single(_effects.Removed);
        q.Publish(Msg(), T0);
        q.AddConsumer(C("a"), "q");
        q.DeliverReady(T0 + 20);
        Assert.Empty(_effects.Delivered);
        Assert.Equal(2, _effects.Removed.Count);
    }

    [Fact]
    public void Rejected_without_requeue_is_dead_lettered_when_there_is_a_dead_letter_exchange()
    {
        var q = State(Args(("x-dead-letter-exchange", "dlx")));
        q.Publish(Msg(), T0);
        var m = q.Get("ch", false, T0, out _)!;
        q.Settle("ch", new[] { m.Id }, Settlement.Discard, T0);
        Assert.Equal((m, DeathReason.Rejected), Assert.Single(_effects.DeadLettered));

        var plain = new QueueState<string>(QueueArguments.None, false, _effects);
        plain.Publish(Msg(), T0);
        var n = plain.Get("ch", false, T0, out _)!;
        plain.Settle("ch", new[] { n.Id }, Settlement.Discard, T0);
        Assert.Contains(n, _effects.Removed);
    }

    [Fact]
    public void Max_length_drops_the_head()
    {
        var q = State(Args(("x-max-length", 2), ("x-dead-letter-exchange", "dlx")));
        var first = q.Publish(Msg("1"), T0)!;
        q.Publish(Msg("2"), T0);
        q.Publish(Msg("3"), T0);
        Assert.Equal(2, q.ReadyCount);
        Assert.Equal((first, DeathReason.MaxLength), Assert.Single(_effects.DeadLettered));
        // The new message was accepted (journaled) before the old one left.
        Assert.Equal(3, _effects.Accepted.Count);
    }

    [Fact]
    public void Max_length_bytes_counts_bodies()
    {
        var q = State(Args(("x-max-length-bytes", 10)));
        q.Publish(Msg("123456"), T0);
        q.Publish(Msg("1234"), T0);
        Assert.Equal(2, q.ReadyCount);
        q.Publish(Msg("1"), T0);
        Assert.Equal(2, q.ReadyCount);
        Assert.Equal(5, q.ReadyBytes);
    }

    [Fact]
    public void Reject_publish_refuses_when_full_and_reject_publish_dlx_dead_letters_the_refused()
    {
        var q = State(Args(("x-max-length", 1), ("x-overflow", "reject-publish")));
        Assert.NotNull(q.Publish(Msg(), T0));
        Assert.Null(q.Publish(Msg(), T0));
        Assert.Single(_effects.Accepted);
        Assert.Empty(_effects.DeadLettered);

        var d = State(Args(("x-max-length", 1), ("x-overflow", "reject-publish-dlx"), ("x-dead-letter-exchange", "dlx")));
        d.Publish(Msg(), T0);
        Assert.Null(d.Publish(Msg("refused"), T0));
        var (m, reason) = Assert.Single(_effects.DeadLettered);
        Assert.Equal((0L, DeathReason.MaxLength), (m.Id, reason));
    }

    [Fact]
    public void Reject_publish_counts_the_new_messages_body_against_max_length_bytes()
    {
        var q = State(Args(("x-max-length-bytes", 10), ("x-overflow", "reject-publish")));
        Assert.NotNull(q.Publish(Msg("123456"), T0));
        Assert.Null(q.Publish(Msg("654321"), T0));
        Assert.Equal("123456", System.Text.Encoding.UTF8.GetString(q.Get("ch", true, T0, out _)!.Message.Body));
        Assert.Null(q.Publish(Msg("12345678901"), T0));
        Assert.Empty(_effects.DeadLettered);
        Assert.Equal(new[] { 1L }, _effects.Removed.Select(m => m.Id));
    }

    [Fact]
    public void Priorities_higher_first_fifo_within_capped_at_the_maximum()
    {
        var q = State(Args(("x-max-priority", 5)));
        q.Publish(Msg("p0"), T0);
        q.Publish(Msg("p9", priority: 9), T0);
        q.Publish(Msg("p3", priority: 3), T0);
        q.Publish(Msg("p5", priority: 5), T0);
        q.Publish(Msg("none"), T0);
        var got = new List<string>();
        while (q.Get("ch", true, T0, out _) is { } m)
        {
            got.Add(System.Text.Encoding.UTF8.GetString(m.Message.Body));
        }

        Assert.Equal(new[] { "p9", "p5", "p3", "p0", "none" }, got);
    }

    [Fact]
    public void Without_max_priority_the_priority_property_is_ignored()
    {
        var q = State();
        q.Publish(Msg("a", priority: 1), T0);
        q.Publish(Msg("b", priority: 9), T0);
        Assert.Equal("a", System.Text.Encoding.UTF8.GetString(q.Get("ch", true, T0, out _)!.Message.Body));
    }

    [Fact]
    public void Delivery_limit_dead_letters_after_too_many_returns_and_counts_deliveries()
    {
        var q = State(Args(("x-delivery-limit", 1), ("x-dead-letter-exchange", "dlx")));
        q.Publish(Msg(), T0);
        var m = q.Get("ch", false, T0, out _)!;
        q.Settle("ch", new[] { m.Id }, Settlement.Requeue, T0);
        m = q.Get("ch", false, T0, out _)!;
        Assert.Equal(1L, m.Message.Properties.Headers!["x-delivery-count"]);
        q.Settle("ch", new[] { m.Id }, Settlement.Requeue, T0);
        Assert.Equal(DeathReason.DeliveryLimit, Assert.Single(_effects.DeadLettered).Reason);
        Assert.Equal(0, q.ReadyCount);
    }

    [Fact]
    public void Single_active_consumer_gets_everything_until_it_goes()
    {
        var q = State(Args(("x-single-active-consumer", true)));
        q.AddConsumer(C("a", "ch1"), "q");
        q.DeliverReady(T0);
        q.AddConsumer(C("b", "ch2"), "q");
        q.DeliverReady(T0);
        q.Publish(Msg(), T0);
        q.Publish(Msg(), T0);
        Assert.All(_effects.Delivered, d => Assert.Equal("a", d.Tag));
        q.ChannelGone("ch1", T0);
        Assert.Equal(new[] { "a", "a", "b", "b" }, _effects.Delivered.Select(d => d.Tag));
        Assert.True(_effects.Delivered[2].Message.Redelivered);
    }

    [Fact]
    public void Single_active_consumer_keeps_the_first_consumer_whatever_the_priorities()
    {
        var q = State(Args(("x-single-active-consumer", true)));
        q.AddConsumer(C("first", "ch1", priority: 1), "q");
        q.AddConsumer(C("urgent", "ch2", priority: 10), "q");
        q.Publish(Msg(), T0);
        Assert.Equal("first", Assert.Single(_effects.Delivered).Tag);
    }

    [Fact]
    public void Single_active_consumer_refuses_exclusive_consumers()
    {
        var q = State(Args(("x-single-active-consumer", true)));
        var error = q.AddConsumer(new Consumer<string>("x", "ch", false, exclusive: true, 0, 1000), "queue 'q' in vhost '/'");
        Assert.Equal(ReplyCode.AccessRefused, error!.ReplyCode);
        Assert.Equal("ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use", error.ReplyText);
    }

    [Fact]
    public void Higher_priority_consumers_are_served_while_they_have_room()
    {
        var q = State();
        q.AddConsumer(C("low", "ch1"), "q");
        q.DeliverReady(T0);
        q.AddConsumer(C("high", "ch2", prefetch: 2, priority: 10), "q");
        q.DeliverReady(T0);
        for (int i = 0; i < 4; i++)
        {
            q.Publish(Msg(), T0);
        }

        Assert.Equal(new[] { "high", "high", "low", "low" }, _effects.Delivered.Select(d => d.Tag));
    }

    [Fact]
    public void Recovery_restores_messages_and_expires_what_died_while_down()
    {
        var q = State(Args(("x-message-ttl", 100)), journaled: true);
        q.Restore(3, Msg("old", persistent: true), T0 + 10, redelivered: true);
        q.Restore(5, Msg("new", persistent: true), T0 + 500, redelivered: false);
        q.RestoreCounters(6, 4);
        q.Recovered(T0 + 200);
        Assert.Equal(1, q.ReadyCount);
        Assert.Equal(3, Assert.Single(_effects.Removed).Id);
        Assert.Equal(6, q.NextId);
    }

    [Fact]
    public void A_delay_queue_releases_messages_when_due_in_due_order()
    {
        var q = State(Args(("x-delayed-exchange", "delayed")), journaled: true);
        Message Delayed(string body, long? delay)
        {
            var p = new BasicProperties { Headers = delay is { } d ? new FieldTable { ["x-delay"] = d } : null };
            return new Message("delayed", "k", p, ContentHeader.EncodeProperties(p), System.Text.Encoding.UTF8.GetBytes(body));
        }

        q.Publish(Delayed("late", 500), T0);
        q.Publish(Delayed("early", 100), T0);
        q.Publish(Delayed("now", null), T0);
        Assert.Equal(new[] { "now" }, _effects.Due.Select(m => System.Text.Encoding.UTF8.GetString(m.Message.Body)));
        Assert.Equal(2, q.ReadyCount);
        Assert.Equal(T0 + 100, _effects.ExpiriesDue.Last());
        q.Expire(T0 + 100);
        Assert.Equal(T0 + 500, _effects.ExpiriesDue.Last());
        q.Expire(T0 + 499);
        q.Expire(T0 + 500);
        Assert.Equal(new[] { "now", "early", "late" }, _effects.Due.Select(m => System.Text.Encoding.UTF8.GetString(m.Message.Body)));
        Assert.Equal(0, q.ReadyCount);

        // Recovery: due times come from the journal.
        var r = State(Args(("x-delayed-exchange", "delayed")), journaled: true);
        r.Restore(7, Delayed("restored", 1000), T0 + 1000, false);
        r.Recovered(T0 + 999);
        Assert.Equal(1, r.ReadyCount);
        r.Expire(T0 + 1000);
        Assert.Equal(7, _effects.Due.Last().Id);
    }

    [Theory]
    [InlineData("x-message-ttl", -1, "{value_negative,-1}")]
    [InlineData("x-message-ttl", 315360000001L, "{value_too_large,315360000001}")]
    [InlineData("x-expires", 0, "{value_zero,0}")]
    [InlineData("x-max-length", -5, "{value_negative,-5}")]
    [InlineData("x-max-priority", 256, "{max_value_exceeded,256}")]
    [InlineData("x-message-ttl", "abc", "\"expected integer, got longstr\"")]
    [InlineData("x-max-length", true, "\"expected integer, got bool\"")]
    [InlineData("x-overflow", 5, "{unacceptable_type,signedint}")]
    [InlineData("x-queue-mode", "bogus", "\"unsupported queue mode 'bogus'\"")]
    [InlineData("x-overflow", "bogus", "invalid_overflow")]
    [InlineData("x-dead-letter-routing-key", "rk", "routing_key_but_no_dlx_defined")]
    [InlineData("x-single-active-consumer", "yes", "{unacceptable_type,longstr}")]
    public void Invalid_arguments_are_precondition_failed_with_rabbitmqs_text(string key, object value, string error)
    {
        var ex = Assert.Throws<AmqpException>(() => Args((key, value)));
        Assert.Equal(ReplyCode.PreconditionFailed, ex.ReplyCode);
        Assert.Equal($"PRECONDITION_FAILED - invalid arg '{key}' for queue 'q' in vhost '/': {error}", ex.ReplyText);
    }

    [Fact]
    public void A_dead_letter_exchange_of_the_wrong_type_has_its_own_wording()
    {
        var ex = Assert.Throws<AmqpException>(() => Args(("x-dead-letter-exchange", 5)));
        Assert.Equal("PRECONDITION_FAILED - invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue 'q' in vhost '/'", ex.ReplyText);
    }

    [Fact]
    public void Quorum_queues_refuse_priorities()
    {
        var ex = Assert.Throws<AmqpException>(() => QueueArguments.Parse(new FieldTable { ["x-max-priority"] = 5 }, "/", "q", "quorum"));
        Assert.Equal("PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'q' in vhost '/' of queue type rabbit_quorum_queue", ex.ReplyText);
    }

    [Theory]
    [InlineData("abc", "no_integer")]
    [InlineData("", "no_integer")]
    [InlineData(" 1000", "no_integer")]
    [InlineData("-1", "{value_negative,-1}")]
    [InlineData("1.5", "{leftover_string,\".5\"}")]
    [InlineData("315360000001", "{value_too_large,315360000001}")]
    [InlineData("1000", null)]
    [InlineData("+5", null)]
    [InlineData("0010", null)]
    public void Expiration_is_checked_as_rabbitmq_checks_it(string expiration, string? error)
    {
        Assert.Equal(error, MessageExpiration.Validate(expiration, out _));
    }
}
