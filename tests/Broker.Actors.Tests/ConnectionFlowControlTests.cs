using Akka.Actor;
using Broker.Actors.Connection;
using Broker.Actors.Transport;
using Broker.Protocol;

namespace Broker.Actors.Tests;

/// <summary>
/// The connection's half of publish flow control: while any channel reports it is out of publish
/// credit, the connection withholds the StreamAck, so the inbound stream stops reading the socket.
/// The test actor plays the stream (Sink.ActorRefWithAck); probes play the channels.
/// </summary>
public class ConnectionFlowControlTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan NoAck = TimeSpan.FromMilliseconds(300);

    private IActorRef StartConnection()
    {
        var settings = new BrokerSettings { HandshakeTimeout = TimeSpan.FromMinutes(5) };
        var broker = new BrokerContext(settings);
        var connection = Sys.ActorOf(Props.Create(() => new ConnectionActor(broker, new OutboundFrames(), null, new Broker.Actors.Stats.ConnectionStats("test", "", 0, "", 0, false))));
        connection.Tell(StreamInit.Instance);
        ExpectMsg<StreamAck>(TimeSpan.FromSeconds(5));
        connection.Tell(new InboundBatch(new List<InboundEvent> { ProtocolHeaderReceived.Accepted }));
        ExpectMsg<StreamAck>(TimeSpan.FromSeconds(5));
        return connection;
    }

    private static InboundBatch Heartbeat() => new(new List<InboundEvent> { HeartbeatReceived.Instance });

    [Fact]
    public void Unblocked_connection_acks_every_batch()
    {
        var connection = StartConnection();
        for (int i = 0; i < 3; i++)
        {
            connection.Tell(Heartbeat());
            ExpectMsg<StreamAck>(TimeSpan.FromSeconds(5));
        }
    }

    [Fact]
    public void Blocked_channel_withholds_the_ack_until_it_is_unblocked()
    {
        var connection = StartConnection();
        var channel = CreateTestProbe("channel");

        channel.Send(connection, new ChannelPublishFlow(Blocked: true));
        connection.Tell(Heartbeat());
        ExpectNoMsg(NoAck);

        channel.Send(connection, new ChannelPublishFlow(Blocked: false));
        ExpectMsg<StreamAck>(TimeSpan.FromSeconds(5));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // exactly one ack for the one withheld batch

        connection.Tell(Heartbeat());
        ExpectMsg<StreamAck>(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Every_blocked_channel_must_unblock_before_reading_resumes()
    {
        var connection = StartConnection();
        var ch1 = CreateTestProbe("ch1");
        var ch2 = CreateTestProbe("ch2");

        ch1.Send(connection, new ChannelPublishFlow(Blocked: true));
        ch2.Send(connection, new ChannelPublishFlow(Blocked: true));
        connection.Tell(Heartbeat());
        ExpectNoMsg(NoAck);

        ch1.Send(connection, new ChannelPublishFlow(Blocked: false));
        ExpectNoMsg(NoAck);

        ch2.Send(connection, new ChannelPublishFlow(Blocked: false));
        ExpectMsg<StreamAck>(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Repeated_block_from_one_channel_needs_one_unblock()
    {
        var connection = StartConnection();
        var channel = CreateTestProbe("channel");

        channel.Send(connection, new ChannelPublishFlow(Blocked: true));
        channel.Send(connection, new ChannelPublishFlow(Blocked: true));
        connection.Tell(Heartbeat());
        ExpectNoMsg(NoAck);

        channel.Send(connection, new ChannelPublishFlow(Blocked: false));
        ExpectMsg<StreamAck>(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Block_and_unblock_between_batches_needs_no_extra_ack()
    {
        var connection = StartConnection();
        var channel = CreateTestProbe("channel");

        channel.Send(connection, new ChannelPublishFlow(Blocked: true));
        channel.Send(connection, new ChannelPublishFlow(Blocked: false));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // nothing was withheld, so nothing to release

        connection.Tell(Heartbeat());
        ExpectMsg<StreamAck>(TimeSpan.FromSeconds(5));
    }
}
