using Akka.Actor;
using Akka.Event;
using Broker.Actors.Connection;
using Broker.Actors.Stats;

namespace Broker.Actors.Management;

/// <summary>
/// This node's side of the management API (/user/management on every node): samples the rates of
/// the node's statistics once a second, reports them to whichever node's API asks
/// (<see cref="CollectNodeStats"/>), and closes a connection of this node by name.
/// </summary>
public sealed class ManagementActor : ReceiveActor, IWithTimers
{
    public const string ActorName = "management";

    private static readonly TimeSpan SampleInterval = TimeSpan.FromSeconds(1);

    private readonly BrokerContext _broker;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ManagementActor(BrokerContext broker)
    {
        _broker = broker;
        Receive<SampleTick>(_ => Sample());
        Receive<CollectNodeStats>(_ => Sender.Tell(NodeStatsReader.Read(_broker)));
        Receive<CloseConnectionByName>(OnClose);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        Sample();
        Timers.StartPeriodicTimer("sample", SampleTick.Instance, SampleInterval);
    }

    private void Sample()
    {
        long now = Environment.TickCount64;
        _broker.Stats.Sample(now);
        foreach (var connection in _broker.Connections.Stats)
        {
            connection.Sample(now);
        }

        // Counters of exchanges deleted since (with their vhost, for the default exchange) go with them.
        foreach (var ((vhost, name), _) in _broker.Stats.Exchanges)
        {
            if (_broker.Routes.Find(vhost, name) is null && (name.Length > 0 || _broker.Access.Current.FindVHost(vhost) is null))
            {
                _broker.Stats.ForgetExchange(vhost, name);
            }
        }
    }

    private void OnClose(CloseConnectionByName close)
    {
        var actor = _broker.Connections.Find(close.Name);
        if (actor is not null)
        {
            _log.Info("closing connection {0} on request of the management API: {1}", close.Name, close.Reason);
            actor.Tell(new ForceClose(close.Reason));
        }

        Sender.Tell(new ConnectionCloseResult(actor is not null));
    }

    private sealed class SampleTick
    {
        public static readonly SampleTick Instance = new();
    }
}
