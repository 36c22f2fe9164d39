using System.Runtime.InteropServices;
using Broker.Actors;
using Broker.Node;

// One command starts a working node: dotnet run --project src/Broker.Node
// With arguments it is the command line for a running node (like rabbitmqctl): policies, users,
// vhosts, permissions, topic-permissions, alarms.
if (args.Length > 0)
{
    if (args[0] == "policies")
    {
        return await PolicyCommand.RunAsync(args[1..], Console.Out, Console.Error);
    }

    if (args[0] == "alarms")
    {
        return await AlarmCommand.RunAsync(args[1..], Console.Out, Console.Error);
    }

    if (AccessCommand.Groups.Contains(args[0]))
    {
        return await AccessCommand.RunAsync(args[0], args[1..], Console.Out, Console.Error);
    }

    Console.Error.WriteLine($"broker: unknown command '{args[0]}'\n{PolicyCommand.Usage}\n{AccessCommand.Usage}\n{AlarmCommand.Usage}");
    return 2;
}

// Signal handlers first: a SIGTERM that arrives while the node is still starting must still lead
// to a clean stop, not to the runtime's default (exit 143).
var stop = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx =>
{
    ctx.Cancel = true;
    stop.TrySetResult("SIGINT");
});
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
{
    ctx.Cancel = true;
    stop.TrySetResult("SIGTERM");
});

BrokerNode node;
try
{
    node = await NodeHost.StartAsync(NodeHost.ProcessEnvironment());
}
catch (ConfigurationException e)
{
    Console.Error.WriteLine($"broker: configuration error: {e.Message}");
    return 2;
}
catch (Exception e) when (e is not OutOfMemoryException)
{
    Console.Error.WriteLine($"broker: could not start: {e.Message}");
    return 1;
}

var server = node.Server;
foreach (string line in StartupBanner.Lines(node))
{
    Console.WriteLine(line);
}

var stopped = await Task.WhenAny(stop.Task, server.Terminated.Task);
if (stopped != stop.Task)
{
    // Downed by the cluster (split-brain resolver, or removed while unreachable): this node must
    // not serve on its own. Exit non-zero so a supervisor (docker restart policy) starts it again.
    Console.Error.WriteLine("broker: removed from the cluster, stopping");
    await node.StopAsync("node removed from the cluster");
    return 3;
}

string signal = await stop.Task;
Console.WriteLine($"broker: {signal} received, shutting down");
await node.StopAsync($"broker shutdown ({signal})");
Console.WriteLine("broker: stopped");
return 0;
