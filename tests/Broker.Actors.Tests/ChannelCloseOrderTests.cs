using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.TestKit;
using Broker.Actors.Channel;
using Broker.Actors.Connection;
using Broker.Actors.Queues;
using Broker.Actors.Transport;
using Broker.Protocol;
using Broker.Protocol.Methods;

namespace Broker.Actors.Tests;

/// <summary>
/// Nothing of a channel may follow its close or close-ok: a confirm a queue granted just before the
/// client's channel.close goes out before the close-ok (it used to be appended after it, and
/// amqplib fails on a basic.ack for a channel it has closed).
/// </summary>
public sealed class ChannelCloseOrderTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_confirm_granted_just_before_the_close_goes_out_before_close_ok()
    {
        var broker = new BrokerContext(new BrokerSettings());
        broker.Access.Apply(global::Broker.Actors.Access.AccessStore.Initial("guest", "guest", ["/"]), new Topology.TopologyVersion(1, 0));
        var queue = CreateTestProbe("queue");
        broker.Queues.Apply(new QueueInfo(new QueueDefinition("/", "q", false, false, false, new FieldTable()), queue.Ref, null),
            new Topology.TopologyVersion(1, 1));
        var outbound = new OutboundFrames();
        var frames = new List<Command>();
        var decoder = new FrameDecoder(131072, 1 << 20);
        bool headerFed = false;
        var written = outbound.AsSource().RunForeach(bytes =>
        {
            var events = new List<InboundEvent>();
            lock (frames)
            {
                if (!headerFed)
                {
                    decoder.Feed(FrameWriter.ProtocolHeader, events);
                    headerFed = true;
                }

                decoder.Feed(bytes.ToArray(), events);
                frames.AddRange(events.OfType<Command>());
            }
        }, Sys.Materializer());

        var info = new ConnectionInfo("c1", CreateTestProbe("connection").Ref, "/", "guest", 131072, true);
        var channel = Sys.ActorOf(Props.Create(() => new ChannelActor(broker, info, 1, outbound)));
        Watch(channel);
        channel.Tell(ChannelCommands.Of(new Command(1, new ChannelOpen())));
        channel.Tell(ChannelCommands.Of(new Command(1, new ConfirmSelect())));
        var props = new BasicProperties();
        var header = new ContentHeader(60, 1, props, ContentHeader.EncodeProperties(props));
        channel.Tell(ChannelCommands.Of(new Command(1, new BasicPublish { RoutingKey = "q" }, header, new byte[1])));
        var publish = queue.ExpectMsg<Publish>(Wait);

        // The queue's confirm and the client's close, back to back: the close is handled before
        // the flush the confirm scheduled.
        channel.Tell(new Enqueued(queue.Ref, publish.ConfirmId), queue.Ref);
        channel.Tell(ChannelCommands.Of(new Command(1, new ChannelClose { ReplyCode = 200, ReplyText = "bye" })));

        // The channel stops after its close-ok; then every frame it wrote is in the stream, which
        // ends once the outbound side is completed (as the connection does when it stops).
        ExpectTerminated(channel, Wait);
        outbound.Complete();
        await written.WaitAsync(Wait);
        lock (frames)
        {
            var names = frames.Select(f => f.Method.Name).ToList();
            Assert.Equal("channel.close-ok", names[^1]);
            Assert.Contains("basic.ack", names);
        }
    }
}
