using System.Net;
using Broker.Actors;
using Broker.Actors.Management;

namespace Broker.Node.Management;

/// <summary>What the API handlers share: the broker, the latest view of the cluster's statistics, and the way to the node's own AMQP listener.</summary>
public sealed class ManagementNode(BrokerServer broker)
{
    /// <summary>Requests within this time share one collection of the nodes' reports (rates change once a second anyway).</summary>
    private static readonly TimeSpan ViewLifetime = TimeSpan.FromMilliseconds(900);

    private readonly object _gate = new();
    private Task<ClusterView>? _view;
    private long _viewAt;

    public BrokerServer Broker { get; } = broker;

    /// <summary>The AMQP connections' own password and loopback checks, used for the API's Basic auth.</summary>
    public Broker.Actors.Connection.Authenticator Authenticator { get; } =
        new(broker.Context.Access, broker.Context.Settings.LoopbackUsers);

    /// <summary>The cluster's statistics: every node's report, collected at most once per ViewLifetime.</summary>
    public Task<ClusterView> ViewAsync()
    {
        lock (_gate)
        {
            long now = Environment.TickCount64;
            if (_view is null || now - _viewAt > ViewLifetime.TotalMilliseconds || _view.IsFaulted)
            {
                _view = ClusterView.CollectAsync(Broker.Actors, Broker.Context);
                _viewAt = now;
            }

            return _view;
        }
    }

    /// <summary>Forget the cached view (after a change the caller wants to see at once).</summary>
    public void Invalidate()
    {
        lock (_gate)
        {
            _view = null;
        }
    }

    /// <summary>Where this node's AMQP listener can be reached from this process (its loopback for a wildcard bind).</summary>
    public IPEndPoint AmqpEndpoint
    {
        get
        {
            var endpoint = Broker.Endpoint ?? throw new InvalidOperationException("the AMQP listener is not running");
            if (endpoint.Address.Equals(IPAddress.Any))
            {
                return new IPEndPoint(IPAddress.Loopback, endpoint.Port);
            }

            return endpoint.Address.Equals(IPAddress.IPv6Any) ? new IPEndPoint(IPAddress.IPv6Loopback, endpoint.Port) : endpoint;
        }
    }

    public string NodeName => Broker.Context.Settings.NodeName;
}
