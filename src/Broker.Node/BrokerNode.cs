using Broker.Actors;
using Broker.Node.Management;

namespace Broker.Node;

/// <summary>A running node: the broker (actor system and AMQP listeners) and its HTTP side (management API, web UI, metrics).</summary>
public sealed class BrokerNode(BrokerServer server, ManagementServer? management) : IAsyncDisposable
{
    public BrokerServer Server { get; } = server;

    /// <summary>Null when both the management and the Prometheus ports are off.</summary>
    public ManagementServer? Management { get; } = management;

    /// <summary>Stops the HTTP side first (no request meets a stopping broker), then the broker.</summary>
    public async Task StopAsync(string reason = "broker shutdown")
    {
        if (Management is not null)
        {
            await Management.DisposeAsync();
        }

        await Server.StopAsync(reason);
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
