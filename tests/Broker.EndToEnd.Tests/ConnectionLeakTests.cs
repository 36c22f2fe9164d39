using System.Net.Sockets;
using Broker.EndToEnd.Tests.Fuzz;
using Xunit.Abstractions;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// Found by fuzzing over TCP: a connection the client closes leaves its stream graph behind in the
/// node (Akka.Streams GraphInterpreter with the TCP stage, FrameDecoderStage and its buffer, the
/// ActorRefWithAck sink, OutboundFrames' channel source and the ConnectionStats: tens of KiB), even
/// a bare TCP connect and close. The node's API no longer lists the connection and its socket is
/// closed; a heap dump (dotnet-gcdump) after N such connections counts N more TcpStreamLogic and
/// GraphInterpreter instances. Connections the node closes itself while handling the client's input
/// (a refused login, another protocol's header) do not leak. Cause not found yet (the TCP stage
/// seems never to learn that its connection closed); skipped until fixed: remove the Skip to run it.
/// </summary>
public sealed class ConnectionLeakTests
{
    private readonly ITestOutputHelper _out;

    public ConnectionLeakTests(ITestOutputHelper output) => _out = output;

    [Fact(Skip = "known leak, found by fuzzing over TCP: the stream graph of a connection the client closes stays in the node")]
    public async Task ConnectionsTheClientClosesLeaveNothingBehind()
    {
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string> { ["BROKER_LOG_LEVEL"] = "WARNING" });
        using var api = new ManagementClient(node.ManagementUri);
        await ConnectAndCloseAsync(node.Port, 300);
        long before = await SettledResidentAsync(node, api);
        const int connections = 3000;
        await ConnectAndCloseAsync(node.Port, connections);
        long after = await SettledResidentAsync(node, api);
        _out.WriteLine($"{connections} connections opened and closed: resident {ProcessStats.Mib(before)} before, {ProcessStats.Mib(after)} after");
        // Without the leak a few MiB at most; with it about 60 KiB a connection (measured: 180 MiB for 3000).
        Assert.True(after - before < 16L << 20,
            $"{ProcessStats.Mib(after - before)} more resident memory after {connections} closed connections");
    }

    private static async Task ConnectAndCloseAsync(int port, int count)
    {
        for (int i = 0; i < count; i++)
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync("127.0.0.1", port);
        }
    }

    private static async Task<long> SettledResidentAsync(NodeProcess node, ManagementClient api)
    {
        await Wait.Until(async () => (await api.GetAsync("/api/connections")).AsArray().Count == 0, "no connection listed", TimeSpan.FromSeconds(60));
        await NodeGarbage.CollectAsync(node.Pid);
        return ProcessStats.ResidentBytes(node.Pid);
    }
}
