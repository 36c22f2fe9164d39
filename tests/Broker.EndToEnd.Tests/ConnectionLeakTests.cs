using System.Net.Sockets;
using Broker.EndToEnd.Tests.Fuzz;
using Xunit.Abstractions;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// Found by fuzzing over TCP: a connection the client closes leaves its stream graph behind in the
/// node (TCP stage, decoder, buffers, ConnectionStats: tens of KiB; 3000 connections: +204 MiB
/// resident), even a bare TCP connect and close. The ConnectionActor does see the close and stops.
/// A heap dump (dotnet-dump, gcroot) shows what holds the graph: the TCP listener stage's actor
/// (ConnectionSourceStage's FunctionRef, the bind handler) keeps every incoming connection's Akka.IO
/// actor in a watch set of its own (root chain: ServerBinding -> bind handler FunctionRef ->
/// ImmutableHashSet of IActorRef -> the connection's LocalActorRef -> its ActorCell -> the stream
/// stage's FunctionRef -> TcpStreamLogic), so the dead actor's cell keeps the whole graph. Nothing in the broker's
/// own flow holds it (ending both directions with a kill switch changed nothing). Skipped until
/// fixed (Akka.NET after 1.5.73, or an accept loop of the broker's own): remove the Skip to run it.
/// </summary>
public sealed class ConnectionLeakTests
{
    private readonly ITestOutputHelper _out;

    public ConnectionLeakTests(ITestOutputHelper output) => _out = output;

    [Fact(Skip = "known leak in Akka.NET 1.5.73's TCP listener (see the summary): every closed connection stays reachable from the listener's bind handler")]
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
