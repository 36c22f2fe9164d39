using RabbitMQ.Client;
using static Broker.EndToEnd.Tests.ClientHelpers;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// Policies set, listed and cleared with the node's command line (`Broker.Node policies ...`, like
/// rabbitmqctl set_policy) against a running node, and what they do to matching queues and
/// exchanges: settings apply to queues declared before and after, the queue's own arguments win
/// where RabbitMQ says they do, and a cleared policy stops applying.
/// </summary>
[Collection("broker")]
public sealed class PolicyTests
{
    private readonly BrokerFixture _broker;

    public PolicyTests(BrokerFixture broker) => _broker = broker;

    internal static Task<(int ExitCode, string Output)> Cli(string uri, params string[] args) => NodeCli.RunAsync(uri, ["policies", .. args]);

    private async Task Set(params string[] args)
    {
        var (code, output) = await Cli(_broker.Uri, ["set", .. args]);
        Assert.True(code == 0, $"policies set exited {code}: {output}");
    }

    [Fact]
    public async Task A_policy_applies_ttl_and_dead_lettering_to_matching_queues_until_cleared()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        string prefix = UniqueName("pol");
        string dlx = prefix + "-dlx", dlq = prefix + "-dlq", before = prefix + "-before", after = prefix + "-after";
        await ch.ExchangeDeclareAsync(dlx, ExchangeType.Fanout);
        await ch.QueueDeclareAsync(dlq, false, false, false);
        await ch.QueueBindAsync(dlq, dlx, "");
        await ch.QueueDeclareAsync(before, false, false, false);

        await Set(prefix + "-ttl", $"^{prefix}-(before|after)$", $"{{\"message-ttl\":100,\"dead-letter-exchange\":\"{dlx}\"}}", "--apply-to", "queues");
        var (code, list) = await Cli(_broker.Uri, "list");
        Assert.Equal(0, code);
        Assert.Contains(prefix + "-ttl", list);

        await ch.QueueDeclareAsync(after, false, false, false);
        await ch.BasicPublishAsync("", before, Body("b"));
        await ch.BasicPublishAsync("", after, Body("a"));
        await Wait.Until(async () => (await ch.QueueDeclarePassiveAsync(dlq)).MessageCount == 2, "both messages dead-lettered");

        (code, var output) = await Cli(_broker.Uri, "clear", prefix + "-ttl");
        Assert.True(code == 0, output);
        await ch.BasicPublishAsync("", after, Body("kept"));
        await Task.Delay(300);
        Assert.Equal(1u, (await ch.QueueDeclarePassiveAsync(after)).MessageCount);
        (_, list) = await Cli(_broker.Uri, "list");
        Assert.DoesNotContain(prefix + "-ttl", list);
    }

    [Fact]
    public async Task A_lower_policy_limit_applies_at_once_and_a_queue_argument_that_is_lower_wins()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync(new CreateChannelOptions(true, true));
        string prefix = UniqueName("pol-len");
        string loose = prefix + "-loose", tight = prefix + "-tight";
        await ch.QueueDeclareAsync(loose, false, false, false);
        await ch.QueueDeclareAsync(tight, false, false, false, new Dictionary<string, object?> { ["x-max-length"] = 1 });
        for (int i = 0; i < 5; i++)
        {
            await ch.BasicPublishAsync("", loose, Body("m" + i));
        }

        await Set(prefix, $"^{prefix}-", "{\"max-length\":2}");
        await Wait.Until(async () => (await ch.QueueDeclarePassiveAsync(loose)).MessageCount == 2, "the policy's limit applied");
        Assert.Equal("m3", Text((await ch.BasicGetAsync(loose, true))!.Body));
        for (int i = 0; i < 3; i++)
        {
            await ch.BasicPublishAsync("", tight, Body("t" + i));
        }

        Assert.Equal(1u, (await ch.QueueDeclarePassiveAsync(tight)).MessageCount);
        await Cli(_broker.Uri, "clear", prefix);
    }

    [Fact]
    public async Task A_policy_can_give_an_exchange_its_alternate_exchange()
    {
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync(new CreateChannelOptions(true, true));
        string prefix = UniqueName("pol-ae");
        string main = prefix + "-main", ae = prefix + "-ae", aeq = prefix + "-aeq";
        await ch.ExchangeDeclareAsync(ae, ExchangeType.Fanout);
        await ch.QueueDeclareAsync(aeq, false, false, false);
        await ch.QueueBindAsync(aeq, ae, "");
        await ch.ExchangeDeclareAsync(main, ExchangeType.Direct);
        await Set(prefix, $"^{prefix}-main$", $"{{\"alternate-exchange\":\"{ae}\"}}", "--apply-to", "exchanges");
        await ch.BasicPublishAsync(main, "nowhere", true, new BasicProperties(), Body("m"));
        Assert.Equal("m", Text((await ch.BasicGetAsync(aeq, true))!.Body));
        await Cli(_broker.Uri, "clear", prefix);
    }

    [Theory]
    [InlineData("{\"max-priority\":5}", "'max-priority' cannot be set by a policy")]
    [InlineData("{\"message-ttl\":-1}", "'message-ttl' must be a non-negative integer")]
    [InlineData("{\"bogus\":1}", "'bogus' is not a recognised policy setting")]
    public async Task An_invalid_policy_is_refused(string definition, string error)
    {
        var (code, output) = await Cli(_broker.Uri, "set", UniqueName("pol-bad"), ".*", definition);
        Assert.Equal(1, code);
        Assert.Contains(error, output);
    }

    [Fact]
    public async Task Clearing_a_policy_that_does_not_exist_fails()
    {
        var (code, output) = await Cli(_broker.Uri, "clear", UniqueName("pol-none"));
        Assert.Equal(1, code);
        Assert.Contains("no policy", output);
    }
}
