using Akka.Actor;
using Akka.TestKit;
using Broker.Actors.Channel;
using Broker.Actors.Connection;
using Broker.Actors.Queues;
using Broker.Actors.Transport;
using Broker.Protocol;
using Broker.Protocol.Methods;

namespace Broker.Actors.Tests;

/// <summary>
/// The channel's half of publish flow control: each queue grants FlowControl.InitialPublishCredit
/// publishes; when a queue's credit runs out the channel tells its connection it is blocked, and
/// when the queue grants more (PublishCredit) it tells the connection it is unblocked.
/// Probes play the queues and the connection.
/// </summary>
public class ChannelPublishCreditTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly byte[] Body = "hello"u8.ToArray();

    private readonly BrokerContext _broker = new(new BrokerSettings());
    private readonly TestProbe _connection;
    private readonly IActorRef _channel;

    public ChannelPublishCreditTests()
    {
        _connection = CreateTestProbe("connection");
        _broker.Access.Apply(global::Broker.Actors.Access.AccessStore.Initial("guest", "guest", ["/"]), new Topology.TopologyVersion(1, 0));
        var info = new ConnectionInfo("c1", _connection.Ref, "/", "guest", 131072, true);
        var broker = _broker;
        _channel = Sys.ActorOf(Props.Create(() => new ChannelActor(broker, info, 1, new OutboundFrames())));
        _channel.Tell(ChannelCommands.Of(new Command(1, new ChannelOpen())));
    }

    private TestProbe Queue(string name)
    {
        var probe = CreateTestProbe(name);
        _broker.Queues.Apply(new QueueInfo(
            new QueueDefinition("/", name, false, false, false, new FieldTable()), probe.Ref, null), new Topology.TopologyVersion(1, 1));
        return probe;
    }

    private static Command PublishTo(string queue)
    {
        var props = new BasicProperties();
        var header = new ContentHeader(60, (ulong)Body.Length, props, ContentHeader.EncodeProperties(props));
        return new Command(1, new BasicPublish { Exchange = "", RoutingKey = queue }, header, Body);
    }

    private void Publish(string queue, int count)
    {
        for (int i = 0; i < count; i++)
        {
            _channel.Tell(ChannelCommands.Of(PublishTo(queue)));
        }
    }

    private static void ExpectPublishes(TestProbe queue, string name, int count)
    {
        var received = queue.ReceiveN(count, Wait);
        Assert.All(received, m =>
        {
            var p = Assert.IsType<Publish>(m);
            Assert.Equal(name, p.Message.RoutingKey);
            Assert.Equal(Body, p.Message.Body);
            Assert.Equal(0, p.ConfirmId);
        });
    }

    private void ExpectFlow(bool blocked) =>
        Assert.Equal(blocked, _connection.ExpectMsg<ChannelPublishFlow>(Wait).Blocked);

    [Fact]
    public void Running_out_of_credit_blocks_and_new_credit_unblocks()
    {
        var q = Queue("q1");

        Publish("q1", FlowControl.InitialPublishCredit - 1);
        ExpectPublishes(q, "q1", FlowControl.InitialPublishCredit - 1);
        _connection.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // one credit left: not blocked yet

        Publish("q1", 1);
        ExpectPublishes(q, "q1", 1);
        ExpectFlow(blocked: true);

        q.Send(_channel, new PublishCredit(q.Ref, FlowControl.PublishCreditBatch, 2000));
        ExpectFlow(blocked: false);
        _connection.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Granted_credit_is_spent_and_blocks_again()
    {
        var q = Queue("q1");
        Publish("q1", FlowControl.InitialPublishCredit);
        ExpectPublishes(q, "q1", FlowControl.InitialPublishCredit);
        ExpectFlow(blocked: true);

        q.Send(_channel, new PublishCredit(q.Ref, 500, 2000));
        ExpectFlow(blocked: false);

        Publish("q1", 499);
        ExpectPublishes(q, "q1", 499);
        _connection.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        Publish("q1", 1);
        ExpectPublishes(q, "q1", 1);
        ExpectFlow(blocked: true);
    }

    [Fact]
    public void Credit_that_leaves_the_balance_exhausted_does_not_unblock()
    {
        var q = Queue("q1");
        Publish("q1", FlowControl.InitialPublishCredit + 10); // the stream's last batch may overshoot
        ExpectPublishes(q, "q1", FlowControl.InitialPublishCredit + 10);
        ExpectFlow(blocked: true);

        q.Send(_channel, new PublishCredit(q.Ref, 5, 2010)); // balance -10 + 5 = -5
        _connection.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        q.Send(_channel, new PublishCredit(q.Ref, 500, 2010));
        ExpectFlow(blocked: false);
    }

    [Fact]
    public void Channel_stays_blocked_while_any_queue_is_out_of_credit()
    {
        var q1 = Queue("q1");
        var q2 = Queue("q2");

        Publish("q1", FlowControl.InitialPublishCredit);
        ExpectPublishes(q1, "q1", FlowControl.InitialPublishCredit);
        ExpectFlow(blocked: true);

        Publish("q2", FlowControl.InitialPublishCredit);
        ExpectPublishes(q2, "q2", FlowControl.InitialPublishCredit);
        _connection.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // already blocked: told once

        q1.Send(_channel, new PublishCredit(q1.Ref, 500, 2000));
        _connection.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // q2 is still exhausted

        q2.Send(_channel, new PublishCredit(q2.Ref, 500, 2000));
        ExpectFlow(blocked: false);
    }

    [Fact]
    public void Grants_are_totals_so_a_lost_one_is_made_good_and_a_stale_one_changes_nothing()
    {
        var q = Queue("q1");
        Publish("q1", FlowControl.InitialPublishCredit);
        ExpectPublishes(q, "q1", FlowControl.InitialPublishCredit);
        ExpectFlow(blocked: true);

        // The grant of 500 was lost on its way; the next one says 1000 in all.
        q.Send(_channel, new PublishCredit(q.Ref, 1000, 2000));
        ExpectFlow(blocked: false);
        q.Send(_channel, new PublishCredit(q.Ref, 500, 2000)); // late and stale: no credit taken back, none added

        Publish("q1", 999);
        ExpectPublishes(q, "q1", 999);
        _connection.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Publish("q1", 1);
        ExpectPublishes(q, "q1", 1);
        ExpectFlow(blocked: true);
    }

    [Fact]
    public void A_blocked_channel_asks_its_queue_for_its_grant_and_the_answer_unblocks_it()
    {
        var q = Queue("q1");
        Publish("q1", FlowControl.InitialPublishCredit);
        ExpectPublishes(q, "q1", FlowControl.InitialPublishCredit);
        ExpectFlow(blocked: true);

        // Every grant was lost: the channel asks (within a few seconds) instead of hanging.
        q.ExpectMsg<PublishCreditProbe>(TimeSpan.FromSeconds(5));
        q.Reply(new PublishCredit(q.Ref, 500, 2000));
        ExpectFlow(blocked: false);
    }

    [Fact]
    public void Publishes_lost_on_the_way_stop_holding_the_window_once_the_queue_reports_the_same_total_twice()
    {
        var q = Queue("q1");
        Publish("q1", FlowControl.InitialPublishCredit);
        ExpectPublishes(q, "q1", FlowControl.InitialPublishCredit);
        ExpectFlow(blocked: true);

        // Only 1500 arrived (an association between nodes dropped); nothing was granted yet.
        q.ExpectMsg<PublishCreditProbe>(TimeSpan.FromSeconds(5));
        q.Reply(new PublishCredit(q.Ref, 0, 1500));
        _connection.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // once could be "still in flight"
        q.ExpectMsg<PublishCreditProbe>(TimeSpan.FromSeconds(5));
        q.Reply(new PublishCredit(q.Ref, 0, 1500));
        ExpectFlow(blocked: false); // twice: the 500 are lost, 1500 outstanding leave room for 500
    }

    [Fact]
    public void A_stopped_queue_releases_its_block()
    {
        var q = Queue("q1");
        Publish("q1", FlowControl.InitialPublishCredit);
        ExpectPublishes(q, "q1", FlowControl.InitialPublishCredit);
        ExpectFlow(blocked: true);

        Sys.Stop(q.Ref);
        ExpectFlow(blocked: false);
    }

    [Fact]
    public void Credit_from_a_queue_never_published_to_is_ignored()
    {
        var q = Queue("q1");
        var stranger = Queue("q2");
        Publish("q1", FlowControl.InitialPublishCredit);
        ExpectPublishes(q, "q1", FlowControl.InitialPublishCredit);
        ExpectFlow(blocked: true);

        stranger.Send(_channel, new PublishCredit(stranger.Ref, 500, 0));
        _connection.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void Closing_a_blocked_channel_unblocks_its_connection()
    {
        var q = Queue("q1");
        Publish("q1", FlowControl.InitialPublishCredit);
        ExpectPublishes(q, "q1", FlowControl.InitialPublishCredit);
        ExpectFlow(blocked: true);

        _channel.Tell(ChannelCommands.Of(new Command(1, new ChannelClose { ReplyCode = 200, ReplyText = "bye" })));
        ExpectFlow(blocked: false);
    }
}
