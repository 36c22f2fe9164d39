using Microsoft.Data.Sqlite;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// A journal that refuses writes (a real SQLite failure, injected with a trigger on the journal
/// table) must give publishers basic.nack and a clear log line, while the node keeps serving
/// everything else and the queue comes back once the journal works again.
/// </summary>
public sealed class JournalFailureTests : IAsyncLifetime
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "broker-jfail-" + Guid.NewGuid().ToString("N"));
    private NodeProcess _node = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dataDir);
        _node = await NodeProcess.StartAsync(new Dictionary<string, string> { ["BROKER_DATA_DIR"] = _dataDir });
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    private void Sql(string sql)
    {
        using var c = new SqliteConnection("Data Source=" + Path.Combine(_dataDir, "broker.db") + ";Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    [Fact]
    public async Task FailedWritesAreNackedLoggedAndTheBrokerKeepsServing()
    {
        var factory = new ConnectionFactory { Uri = new Uri(_node.Uri), AutomaticRecoveryEnabled = false };
        await using var conn = await factory.CreateConnectionAsync();
        await using var ch = await conn.CreateChannelAsync(new CreateChannelOptions(true, true));
        await ch.QueueDeclareAsync("jq", durable: true, exclusive: false, autoDelete: false);
        await ch.QueueDeclareAsync("tq", durable: false, exclusive: false, autoDelete: false);
        var persistent = new BasicProperties { DeliveryMode = DeliveryModes.Persistent };
        await ch.BasicPublishAsync("", "jq", true, persistent, Body("before"));

        Sql("CREATE TRIGGER fail_writes BEFORE INSERT ON journal BEGIN SELECT RAISE(ABORT, 'injected journal failure'); END;");

        // The write fails: the publisher gets basic.nack, not a confirm.
        await using var failing = await conn.CreateChannelAsync(new CreateChannelOptions(true, true));
        var nack = await Assert.ThrowsAnyAsync<PublishException>(
            () => failing.BasicPublishAsync("", "jq", true, persistent, Body("refused")).AsTask());
        Assert.False(nack.IsReturn);
        await _node.WaitForOutputAsync("journal write failed", Wait.Default);

        // Everything that does not need the journal goes on: transient queues, new connections.
        await using (var other = await factory.CreateConnectionAsync())
        await using (var och = await other.CreateChannelAsync(new CreateChannelOptions(true, true)))
        {
            await och.BasicPublishAsync("", "tq", true, new BasicProperties(), Body("transient"));
            Assert.Equal(1u, (await och.QueueDeclarePassiveAsync("tq")).MessageCount);
        }

        Sql("DROP TRIGGER fail_writes;");

        // Once the journal accepts writes again the queue is restarted from it and confirms again.
        bool confirmed = false;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!confirmed && DateTime.UtcNow < deadline)
        {
            await using var retry = await conn.CreateChannelAsync(new CreateChannelOptions(true, true));
            try
            {
                await retry.BasicPublishAsync("", "jq", true, persistent, Body("after"));
                confirmed = true;
            }
            catch (PublishException)
            {
                await Task.Delay(200);
            }
        }

        Assert.True(confirmed, "the queue did not accept persistent messages again within 60 s\n" + _node.Output);
        await using var check = await conn.CreateChannelAsync();
        var first = await check.BasicGetAsync("jq", autoAck: true);
        Assert.Equal("before", Text(first!.Body));
        Assert.True(conn.IsOpen);
    }
}
