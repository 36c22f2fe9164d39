using Akka.Actor;
using Broker.Actors.Persistence;
using Broker.Actors.Policies;
using Broker.Actors.Queues;
using Broker.Protocol;

namespace Broker.Actors.Tests;

/// <summary>
/// Journal events read back as they were written, and rows written by earlier versions (manifest
/// "qe": messages without a deadline) still read: a restarted broker must understand its journal.
/// </summary>
public class JournalEventSerializerTests : IClassFixture<ClusterSerializationFixture>
{
    private readonly JournalEventSerializer _serializer;

    public JournalEventSerializerTests(ClusterSerializationFixture fixture) =>
        _serializer = new JournalEventSerializer((ExtendedActorSystem)fixture.Kit.Sys);

    private T RoundTrip<T>(T e) where T : class => (T)_serializer.FromBinary(_serializer.ToBinary(e), _serializer.Manifest(e));

    [Fact]
    public void Messages_keep_their_deadline()
    {
        var written = new MessagesEnqueued(new[]
        {
            new StoredMessage(7, "x", "rk", new byte[] { 0, 0 }, new byte[] { 1, 2, 3 }, ExpiresAt: 1_700_000_000_123),
            new StoredMessage(8, "", "q", new byte[] { 0, 0 }, Array.Empty<byte>()),
        });
        Assert.Equal("qm", _serializer.Manifest(written));
        var read = RoundTrip(written);
        Assert.Equal(1_700_000_000_123, read.Messages[0].ExpiresAt);
        Assert.Equal(0, read.Messages[1].ExpiresAt);
        Assert.Equal(new byte[] { 1, 2, 3 }, read.Messages[0].Body);
    }

    [Fact]
    public void Rows_written_before_deadlines_existed_still_read()
    {
        // The "qe" layout: count, then per message id, exchange, routing key, properties, body.
        var w = new AmqpWriter(64);
        w.WriteLong(1);
        w.WriteLongLong(5);
        w.WriteShortString("x");
        w.WriteShortString("rk");
        w.WriteLongString(new byte[] { 0, 0 });
        w.WriteLongString(new byte[] { 9 });
        var read = (MessagesEnqueued)_serializer.FromBinary(w.ToArray(), "qe");
        var m = Assert.Single(read.Messages);
        Assert.Equal((5L, "x", "rk", 0L), (m.Id, m.Exchange, m.RoutingKey, m.ExpiresAt));
    }

    [Fact]
    public void Policies_read_back_with_their_definition()
    {
        var policy = new Policy("/vh", "p", "^a\\.", Policy.Queues, -2, new FieldTable { ["message-ttl"] = 5L, ["dead-letter-exchange"] = "dlx" });
        var read = RoundTrip(new PolicyDefined(policy)).Policy;
        Assert.Equal((policy.VHost, policy.Name, policy.Pattern, policy.ApplyTo, policy.Priority), (read.VHost, read.Name, read.Pattern, read.ApplyTo, read.Priority));
        Assert.Equal(5L, read.Integer("message-ttl"));
        Assert.Equal("dlx", read.Text("dead-letter-exchange"));
        Assert.Equal("p", RoundTrip(new PolicyCleared("p")).Name);
    }

    [Fact]
    public void The_access_store_reads_back_whole()
    {
        var store = Broker.Actors.Access.AccessStore.Initial("admin", "pw", ["/", "team"]).SetVHostLimits("team", 3, 7);
        var read = RoundTrip(new Broker.Actors.Access.AccessDefined(store)).Store;
        Assert.Equal(store.VHosts, read.VHosts);
        Assert.Equal(store.Permissions, read.Permissions);
        Assert.True(Broker.Actors.Access.PasswordHashing.Verify(read.Users[0].PasswordHash, read.Users[0].HashingAlgorithm, "pw"));
        Assert.Equal(["administrator"], read.Users[0].Tags);
    }
}
