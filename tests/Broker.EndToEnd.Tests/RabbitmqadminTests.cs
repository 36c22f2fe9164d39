using System.Text.Json.Nodes;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>A node of its own for rabbitmqadmin.</summary>
public sealed class RabbitmqadminFixture : BrokerFixture
{
}

/// <summary>
/// RabbitMQ's own command-line tool, rabbitmqadmin (Debian's rabbitmq-server 3.10.8), not written
/// here, drives the node's management API: list, declare, delete, publish, get, purge, close,
/// export and import, with the output it prints against RabbitMQ.
/// </summary>
public sealed class RabbitmqadminTests : IClassFixture<RabbitmqadminFixture>
{
    private readonly RabbitmqadminFixture _broker;

    public RabbitmqadminTests(RabbitmqadminFixture broker) => _broker = broker;

    private async Task<string> Admin(params string[] args)
    {
        string tool = await DebianTools.RabbitmqadminAsync();
        string arguments = $"{tool} -H 127.0.0.1 -P {_broker.ManagementUri.Port} -u guest -p guest " +
                           string.Join(' ', args.Select(a => "'" + a.Replace("'", "'\\''") + "'"));
        var (code, output) = await DebianTools.RunWithOutputAsync("/bin/sh", $"-c \"{arguments.Replace("\"", "\\\"")}\"", null, TimeSpan.FromMinutes(1));
        Assert.True(code == 0, $"rabbitmqadmin {string.Join(' ', args)} exited {code}: {output}");
        return output;
    }

    [Fact]
    public async Task Declares_lists_publishes_gets_purges_and_deletes()
    {
        string queue = UniqueName("adm-q");
        string exchange = UniqueName("adm-x");
        Assert.Contains("queue declared", await Admin("declare", "queue", $"name={queue}", "durable=false"));
        Assert.Contains("exchange declared", await Admin("declare", "exchange", $"name={exchange}", "type=direct"));
        Assert.Contains("binding declared", await Admin("declare", "binding", $"source={exchange}", $"destination={queue}", "routing_key=k"));
        Assert.Contains("Message published", await Admin("publish", $"exchange={exchange}", "routing_key=k", "payload=hello"));
        Assert.Contains("Message published but NOT routed", await Admin("publish", $"exchange={exchange}", "routing_key=nowhere", "payload=lost"));

        await Wait.Until(async () => (await Admin("-f", "tsv", "list", "queues", "name", "messages")).Contains($"{queue}\t1"), "the queue listed with 1 message");
        Assert.Contains($"{exchange}\tdirect", await Admin("-f", "tsv", "list", "exchanges", "name", "type"));
        Assert.Contains($"{exchange}\t{queue}\tk", await Admin("-f", "tsv", "list", "bindings", "source", "destination", "routing_key"));

        string got = await Admin("-f", "tsv", "get", $"queue={queue}", "ackmode=ack_requeue_true");
        Assert.Contains("hello", got);
        await Admin("publish", "routing_key=" + queue, "payload=second");
        Assert.Contains("queue purged", await Admin("purge", "queue", $"name={queue}"));
        Assert.Contains("No items", await Admin("get", $"queue={queue}"));
        Assert.Contains("queue deleted", await Admin("delete", "queue", $"name={queue}"));
        Assert.Contains("exchange deleted", await Admin("delete", "exchange", $"name={exchange}"));
        Assert.DoesNotContain(queue, await Admin("-f", "tsv", "list", "queues", "name"));
    }

    [Fact]
    public async Task Shows_the_overview_and_closes_a_connection()
    {
        Assert.Contains("3.10.8", await Admin("-f", "tsv", "show", "overview"));
        var factory = _broker.Factory();
        string name = UniqueName("victim");
        factory.ClientProvidedName = name;
        await using var conn = await factory.CreateConnectionAsync();
        string connectionName = null!;
        await Wait.Until(async () =>
        {
            var line = (await Admin("-f", "tsv", "list", "connections", "name", "user_provided_name"))
                .Split('\n').FirstOrDefault(l => l.EndsWith("\t" + name, StringComparison.Ordinal));
            connectionName = line?.Split('\t')[0]!;
            return line is not null;
        }, "the connection listed");
        Assert.Contains("connection closed", await Admin("close", "connection", $"name={connectionName}"));
        await Wait.Until(() => !conn.IsOpen, "the client sees its connection closed");
        Assert.Equal(320, conn.CloseReason!.ReplyCode);
    }

    [Fact]
    public async Task Exports_and_imports_definitions()
    {
        string queue = UniqueName("exported");
        await Admin("declare", "queue", $"name={queue}", "durable=true");
        string file = Path.Combine(Path.GetTempPath(), UniqueName("defs") + ".json");
        try
        {
            Assert.Contains("Exported definitions", await Admin("export", file));
            var exported = JsonNode.Parse(await File.ReadAllTextAsync(file))!;
            Assert.Contains(exported["queues"]!.AsArray(), q => (string?)q!["name"] == queue);

            await Admin("delete", "queue", $"name={queue}");
            Assert.Contains("Uploaded definitions", await Admin("import", file));
            Assert.Contains(queue, await Admin("-f", "tsv", "list", "queues", "name"));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
