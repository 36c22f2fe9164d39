using Microsoft.Data.Sqlite;
using RabbitMQ.Client;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>The durability suite against the default journal: a SQLite file in the data directory.</summary>
public sealed class SqliteDurabilityTests : DurabilityTests
{
    protected override Task<Dictionary<string, string>> JournalEnvAsync() => Task.FromResult(new Dictionary<string, string>());

    protected override Task<long> CountJournalRowsAsync(string persistenceId)
    {
        using var c = new SqliteConnection("Data Source=" + Path.Combine(DataDir, "broker.db"));
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM journal WHERE persistence_id = $id";
        cmd.Parameters.AddWithValue("$id", persistenceId);
        return Task.FromResult((long)cmd.ExecuteScalar()!);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }
}

/// <summary>The same suite against a throwaway PostgreSQL server, selected by configuration alone.</summary>
[Collection("postgres")]
public sealed class PostgresDurabilityTests : DurabilityTests
{
    private readonly PostgresFixture _postgres;
    private readonly string _database = "durability_" + Guid.NewGuid().ToString("N")[..12];

    public PostgresDurabilityTests(PostgresFixture postgres) => _postgres = postgres;

    protected override async Task<Dictionary<string, string>> JournalEnvAsync()
    {
        // A database of its own per test: queue names repeat across tests.
        await _postgres.Server.PsqlAsync($"CREATE DATABASE {_database}");
        var cs = _postgres.ConnectionString.Replace($"Database={_postgres.Server.Database}", $"Database={_database}");
        return new Dictionary<string, string>
        {
            ["BROKER_JOURNAL_PROVIDER"] = "postgresql",
            ["BROKER_JOURNAL_CONNECTION"] = cs,
        };
    }

    protected override async Task<long> CountJournalRowsAsync(string persistenceId) =>
        long.Parse((await _postgres.Server.PsqlAsync(
            $"SELECT COUNT(*) FROM journal WHERE persistence_id = '{persistenceId}'", _database)).Trim());
}

/// <summary>
/// What survives a restart of a node on the same data, as in RabbitMQ: durable exchanges, queues
/// and bindings between durable things, and persistent messages in durable queues; nothing
/// transient. Each test runs its own node, restarted in-process (a clean stop); crashes with
/// SIGKILL are in CrashTests.
/// </summary>
public abstract class DurabilityTests : IAsyncLifetime
{
    private Dictionary<string, string> _env = new();
    private BrokerFixture _node = null!;

    protected string DataDir { get; } = Path.Combine(Path.GetTempPath(), "broker-durable-" + Guid.NewGuid().ToString("N"));

    protected abstract Task<Dictionary<string, string>> JournalEnvAsync();

    protected abstract Task<long> CountJournalRowsAsync(string persistenceId);

    public async Task InitializeAsync()
    {
        _env = await JournalEnvAsync();
        _node = await BrokerFixture.StartAsync(_env, DataDir);
    }

    public virtual async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    private async Task RestartAsync()
    {
        await _node.DisposeAsync();
        _node = await BrokerFixture.StartAsync(_env, DataDir);
    }

    private static BasicProperties Persistent => new() { DeliveryMode = DeliveryModes.Persistent };

    private async Task<IChannel> ConfirmChannelAsync(IConnection conn) =>
        await conn.CreateChannelAsync(new CreateChannelOptions(true, true));

    [Fact]
    public async Task DurableTopologySurvivesAndTransientDoesNot()
    {
        await using (var conn = await _node.ConnectAsync())
        await using (var ch = await conn.CreateChannelAsync())
        {
            await ch.ExchangeDeclareAsync("d-x", "topic", durable: true);
            await ch.ExchangeDeclareAsync("d-x2", "fanout", durable: true);
            await ch.ExchangeDeclareAsync("t-x", "direct", durable: false);
            await ch.QueueDeclareAsync("d-q", durable: true, exclusive: false, autoDelete: false);
            await ch.QueueDeclareAsync("t-q", durable: false, exclusive: false, autoDelete: false);
            await ch.QueueBindAsync("d-q", "d-x", "a.*");
            await ch.QueueBindAsync("t-q", "d-x", "a.*");
            await ch.ExchangeBindAsync("d-x2", "d-x", "b.#");
            await ch.QueueBindAsync("d-q", "d-x2", "");
        }

        await RestartAsync();

        await using var conn2 = await _node.ConnectAsync();
        await using var ch2 = await ConfirmChannelAsync(conn2);
        await ch2.ExchangeDeclarePassiveAsync("d-x");
        await ch2.ExchangeDeclarePassiveAsync("d-x2");
        Assert.Equal(0u, (await ch2.QueueDeclarePassiveAsync("d-q")).MessageCount);
        await using (var probe = await conn2.CreateChannelAsync())
        {
            Assert.Equal(404, await ChannelErrorCode(probe, () => probe.QueueDeclarePassiveAsync("t-q")));
        }

        await using (var probe = await conn2.CreateChannelAsync())
        {
            Assert.Equal(404, await ChannelErrorCode(probe, () => probe.ExchangeDeclarePassiveAsync("t-x")));
        }

        // Both bindings to the durable queue came back: one direct, one through d-x2.
        await ch2.BasicPublishAsync("d-x", "a.1", true, Persistent, Body("direct"));
        await ch2.BasicPublishAsync("d-x", "b.1", true, Persistent, Body("via-e2e"));
        Assert.Equal(2u, (await ch2.QueueDeclarePassiveAsync("d-q")).MessageCount);
        // The binding to the transient queue did not survive: redeclared, it gets nothing.
        await ch2.QueueDeclareAsync("t-q", durable: false, exclusive: false, autoDelete: false);
        await ch2.BasicPublishAsync("d-x", "a.2", true, Persistent, Body("x"));
        Assert.Equal(0u, (await ch2.QueueDeclarePassiveAsync("t-q")).MessageCount);
    }

    /// <summary>
    /// An exchange snapshots its bindings every 100 changes and deletes the events before: after a
    /// restart they come back from the snapshot plus the events after it (a recovery that skipped
    /// the snapshot would lose the first 200 bindings).
    /// </summary>
    [Fact]
    public async Task BindingsKeptInAnExchangeSnapshotSurviveRestart()
    {
        const int Keys = 250, Unbound = 10;
        await using (var conn = await _node.ConnectAsync())
        await using (var ch = await conn.CreateChannelAsync())
        {
            await ch.ExchangeDeclareAsync("snap-x", "direct", durable: true);
            await ch.QueueDeclareAsync("snap-q", durable: true, exclusive: false, autoDelete: false);
            for (int k = 0; k < Keys; k++)
            {
                await ch.QueueBindAsync("snap-q", "snap-x", $"k-{k}");
            }

            for (int k = 0; k < Unbound; k++)
            {
                await ch.QueueUnbindAsync("snap-q", "snap-x", $"k-{k}");
            }
        }

        await RestartAsync();

        await using var conn2 = await _node.ConnectAsync();
        await using var ch2 = await ConfirmChannelAsync(conn2);
        for (int k = 0; k < Keys; k++)
        {
            await ch2.BasicPublishAsync("snap-x", $"k-{k}", false, Persistent, Body($"m-{k}"));
        }

        Assert.Equal((uint)(Keys - Unbound), (await ch2.QueueDeclarePassiveAsync("snap-q")).MessageCount);
    }

    [Fact]
    public async Task PersistentMessagesSurviveInOrderAndTransientOnesDoNot()
    {
        await using (var conn = await _node.ConnectAsync())
        await using (var ch = await ConfirmChannelAsync(conn))
        {
            await ch.QueueDeclareAsync("q", durable: true, exclusive: false, autoDelete: false);
            await ch.QueueDeclareAsync("tq", durable: false, exclusive: false, autoDelete: false);
            for (int i = 0; i < 300; i++)
            {
                await ch.BasicPublishAsync("", "q", true, i % 3 == 0 ? new BasicProperties() : Persistent, Body("m" + i));
                await ch.BasicPublishAsync("", "tq", true, Persistent, Body("t" + i));
            }
        }

        await RestartAsync();

        await using var conn2 = await _node.ConnectAsync();
        await using var ch2 = await conn2.CreateChannelAsync();
        await using (var probe = await conn2.CreateChannelAsync())
        {
            Assert.Equal(404, await ChannelErrorCode(probe, () => probe.QueueDeclarePassiveAsync("tq")));
        }

        var expected = Enumerable.Range(0, 300).Where(i => i % 3 != 0).Select(i => "m" + i).ToList();
        Assert.Equal((uint)expected.Count, (await ch2.QueueDeclarePassiveAsync("q")).MessageCount);
        var got = new List<string>();
        BasicGetResult? r;
        while ((r = await ch2.BasicGetAsync("q", autoAck: true)) is not null)
        {
            got.Add(Text(r.Body));
            Assert.False(r.Redelivered, "never delivered before the restart");
            Assert.Equal(DeliveryModes.Persistent, r.BasicProperties.DeliveryMode);
        }

        Assert.Equal(expected, got);
    }

    [Fact]
    public async Task AckedMessagesStayGoneAndUnackedOnesReturnRedelivered()
    {
        var conn = await _node.ConnectAsync();
        var ch = await ConfirmChannelAsync(conn);
        await ch.QueueDeclareAsync("acks", durable: true, exclusive: false, autoDelete: false);
        for (int i = 0; i < 10; i++)
        {
            await ch.BasicPublishAsync("", "acks", true, Persistent, Body("a" + i));
        }

        var (_, deliveries) = await ConsumeAsync(ch, "acks");
        var received = new List<RabbitMQ.Client.Events.BasicDeliverEventArgs>();
        for (int i = 0; i < 6; i++)
        {
            received.Add(await deliveries.NextAsync());
        }

        await ch.BasicAckAsync(received[3].DeliveryTag, multiple: true);
        // A round trip on the same channel: the broker has the ack before we restart it.
        await ch.QueueDeclarePassiveAsync("acks");
        // a4 and a5 were delivered and not acked; a6..a9 may or may not have been pushed.
        await RestartAsync();

        await using var conn2 = await _node.ConnectAsync();
        await using var ch2 = await conn2.CreateChannelAsync();
        var rest = new List<(string Body, bool Redelivered)>();
        BasicGetResult? r;
        while ((r = await ch2.BasicGetAsync("acks", autoAck: true)) is not null)
        {
            rest.Add((Text(r.Body), r.Redelivered));
        }

        Assert.Equal(new[] { "a4", "a5", "a6", "a7", "a8", "a9" }, rest.Select(x => x.Body));
        Assert.True(rest[0].Redelivered);
        Assert.True(rest[1].Redelivered);
        await conn.DisposeAsync();
    }

    [Fact]
    public async Task DeletesUnbindsAndPurgesStayDone()
    {
        await using (var conn = await _node.ConnectAsync())
        await using (var ch = await ConfirmChannelAsync(conn))
        {
            await ch.ExchangeDeclareAsync("gone-x", "direct", durable: true);
            await ch.QueueDeclareAsync("gone-q", durable: true, exclusive: false, autoDelete: false);
            await ch.QueueDeclareAsync("kept-q", durable: true, exclusive: false, autoDelete: false);
            await ch.QueueDeclareAsync("purged-q", durable: true, exclusive: false, autoDelete: false);
            await ch.ExchangeDeclareAsync("kept-x", "direct", durable: true);
            await ch.QueueBindAsync("kept-q", "kept-x", "k");
            await ch.BasicPublishAsync("", "gone-q", true, Persistent, Body("x"));
            await ch.BasicPublishAsync("", "purged-q", true, Persistent, Body("x"));
            await ch.QueueUnbindAsync("kept-q", "kept-x", "k");
            await ch.QueuePurgeAsync("purged-q");
            await ch.QueueDeleteAsync("gone-q");
            await ch.ExchangeDeleteAsync("gone-x");
        }

        await RestartAsync();

        await using var conn2 = await _node.ConnectAsync();
        await using (var probe = await conn2.CreateChannelAsync())
        {
            Assert.Equal(404, await ChannelErrorCode(probe, () => probe.QueueDeclarePassiveAsync("gone-q")));
        }

        await using (var probe = await conn2.CreateChannelAsync())
        {
            Assert.Equal(404, await ChannelErrorCode(probe, () => probe.ExchangeDeclarePassiveAsync("gone-x")));
        }

        await using var ch2 = await ConfirmChannelAsync(conn2);
        Assert.Equal(0u, (await ch2.QueueDeclarePassiveAsync("purged-q")).MessageCount);
        await ch2.BasicPublishAsync("kept-x", "k", false, Persistent, Body("unbound"));
        Assert.Equal(0u, (await ch2.QueueDeclarePassiveAsync("kept-q")).MessageCount);
    }

    [Fact]
    public async Task JournalStaysProportionalToWhatIsQueued()
    {
        const int total = 20_000;
        await using (var conn = await _node.ConnectAsync())
        await using (var ch = await ConfirmChannelAsync(conn))
        {
            await ch.QueueDeclareAsync("churn", durable: true, exclusive: false, autoDelete: false);
            var (_, deliveries) = await ConsumeAsync(ch, "churn", autoAck: false);
            var pending = new List<Task>();
            for (int i = 0; i < total; i++)
            {
                pending.Add(ch.BasicPublishAsync("", "churn", true, Persistent, new byte[256]).AsTask());
                if (pending.Count == 500)
                {
                    await Wait.For(Task.WhenAll(pending), TimeSpan.FromSeconds(60));
                    pending.Clear();
                }
            }

            await Wait.For(Task.WhenAll(pending), TimeSpan.FromSeconds(60));
            for (int i = 0; i < total; i++)
            {
                var d = await deliveries.NextAsync(TimeSpan.FromSeconds(30));
                if (i % 100 == 99 || i == total - 1)
                {
                    await ch.BasicAckAsync(d.DeliveryTag, multiple: true);
                }
            }

            await ch.QueueDeclarePassiveAsync("churn");
        }

        await using (var conn = await _node.ConnectAsync())
        await using (var ch = await ConfirmChannelAsync(conn))
        {
            // Five messages stay queued.
            for (int i = 0; i < 5; i++)
            {
                await ch.BasicPublishAsync("", "churn", true, Persistent, Body("k"));
            }
        }

        await RestartAsync();
        long rows = await CountJournalRowsAsync("queue-/|churn");
        Assert.True(rows < 150, $"{rows} journal rows left for a queue holding 5 messages after {total}");
        await using var conn2 = await _node.ConnectAsync();
        await using var ch2 = await conn2.CreateChannelAsync();
        Assert.Equal(5u, (await ch2.QueueDeclarePassiveAsync("churn")).MessageCount);
    }

    [Fact]
    public async Task OneLongUnackedMessageDoesNotPinTheJournal()
    {
        // One message at a time (each confirm awaited, each ack its own), so that every message
        // makes journal rows of its own: thousands of rows of history behind the held message.
        const int total = 3000;
        await using (var conn = await _node.ConnectAsync())
        await using (var ch = await ConfirmChannelAsync(conn))
        await using (var holder = await conn.CreateChannelAsync())
        {
            await ch.QueueDeclareAsync("straggler", durable: true, exclusive: false, autoDelete: false);
            await ch.BasicPublishAsync("", "straggler", true, Persistent, Body("first"));
            // Held unacked for the whole run by another channel.
            var held = await holder.BasicGetAsync("straggler", autoAck: false);
            Assert.Equal("first", Text(held!.Body));

            var (_, deliveries) = await ConsumeAsync(ch, "straggler", autoAck: false);
            for (int i = 0; i < total; i++)
            {
                await ch.BasicPublishAsync("", "straggler", true, Persistent, new byte[64]);
                var d = await deliveries.NextAsync(TimeSpan.FromSeconds(30));
                await ch.BasicAckAsync(d.DeliveryTag, multiple: false);
            }

            await ch.QueueDeclarePassiveAsync("straggler");
        }

        await RestartAsync();
        long rows = await CountJournalRowsAsync("queue-/|straggler");
        // Without re-writing the held message, every row after it stays (several thousand here).
        Assert.True(rows < 600, $"{rows} journal rows left for a queue holding 1 message after {total}");
        await using var conn2 = await _node.ConnectAsync();
        await using var ch2 = await conn2.CreateChannelAsync();
        var back = await ch2.BasicGetAsync("straggler", autoAck: true);
        Assert.Equal("first", Text(back!.Body));
        Assert.True(back.Redelivered);
        Assert.Null(await ch2.BasicGetAsync("straggler", autoAck: true));
    }
}
