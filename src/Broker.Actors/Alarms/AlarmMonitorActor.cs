using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace Broker.Actors.Alarms;

/// <summary>
/// This node's memory and disk alarms, and what it knows of its peers', at /user/alarms (RabbitMQ's
/// vm_memory_monitor, disk monitor and rabbit_alarm in one):
/// - every second it compares the process's resident memory with the high watermark and the free
///   space of the data directory's file system with the disk free limit;
/// - it tells its peers its own alarms every second and at once when they change, and keeps what
///   they tell it (a peer silent for 5 s, or gone from the cluster, has no alarm any more), so an
///   alarm on any node blocks publishers on every node, as in RabbitMQ;
/// - whenever the set of alarms in effect changes it publishes <see cref="AlarmsChanged"/>;
/// - once a second it lets IdleCollector give the garbage of a finished burst back.
/// </summary>
public sealed class AlarmMonitorActor : ReceiveActor, IWithTimers
{
    public const string ActorName = "alarms";
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly BrokerContext _broker;
    private readonly ResourceAlarms _alarms;
    private readonly string _node;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Cluster.PeerReports<NodeAlarms> _peers = new();
    private ImmutableArray<AlarmResource> _local = ImmutableArray<AlarmResource>.Empty;
    private ImmutableArray<NodeAlarm> _published = ImmutableArray<NodeAlarm>.Empty;
    private bool _diskUnreadableLogged;
    private readonly IdleCollector _idleCollector = new();

    public AlarmMonitorActor(BrokerContext broker)
    {
        _broker = broker;
        _alarms = broker.Alarms;
        _node = broker.Settings.NodeName;
        Receive<Tick>(_ =>
        {
            if (_idleCollector.Check())
            {
                var gc = GC.GetGCMemoryInfo();
                _log.Debug("alarms: the node was quiet with garbage in its heap; collected it ({0} resident now; heap {1}, fragmented {2}, committed {3})", ByteSize.Format(Environment.WorkingSet), ByteSize.Format(gc.HeapSizeBytes), ByteSize.Format(gc.FragmentedBytes), ByteSize.Format(gc.TotalCommittedBytes));
            }

            Measure();
            SendToPeers();
            Publish();
        });
        Receive<CheckResources>(_ =>
        {
            if (Measure())
            {
                SendToPeers();
            }

            Publish();
            Sender.Tell(new AlarmsChanged(_published));
        });
        Receive<NodeAlarms>(a =>
        {
            if (_peers.Received(Sender, a))
            {
                Publish();
            }
        });
        Receive<ClusterEvent.MemberRemoved>(e =>
        {
            if (_peers.Left(e.Member.Address))
            {
                Publish();
            }
        });
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.IMemberEvent));
        // The node's banner shows the limits (Program); here for DEBUG and in-process hosts.
        _log.Debug("alarms: memory high watermark {0} ({1} of {2}), disk free limit {3} in {4}", _alarms.MemoryWatermark,
            ByteSize.Format(_alarms.MemoryLimit), ByteSize.Format(ResourceAlarms.AvailableMemory), ByteSize.Format(_alarms.DiskFreeLimit),
            Path.GetFullPath(_broker.Settings.DataDirectory));
        Measure();
        Publish();
        Timers.StartPeriodicTimer("check", Tick.Instance, Interval);
    }

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    /// <summary>Measures memory and disk; true if this node's own alarms changed.</summary>
    private bool Measure()
    {
        long used = Environment.WorkingSet;
        long limit = _alarms.MemoryLimit;
        bool memory = used > limit;

        string directory = Path.GetFullPath(_broker.Settings.DataDirectory);
        long? free = DiskSpace.FreeBytes(directory);
        if (free is null && !_diskUnreadableLogged)
        {
            // No figure is no alarm: a node must not block its publishers because it cannot stat a folder.
            _log.Warning("alarms: cannot read the free disk space of {0}; no disk alarm is raised while it cannot", directory);
        }

        _diskUnreadableLogged = free is null;
        bool disk = free < _alarms.DiskFreeLimit;

        bool hadMemory = _local.Contains(AlarmResource.Memory);
        bool hadDisk = _local.Contains(AlarmResource.Disk);
        if (memory != hadMemory)
        {
            if (memory)
            {
                _log.Warning("alarms: memory resource limit alarm set on node {0}: {1} resident, above the high watermark {2} ({3}); " +
                    "publishers on every node are blocked until it clears", _node, ByteSize.Format(used), ByteSize.Format(limit),
                    _alarms.MemoryWatermark);
            }
            else
            {
                _log.Warning("alarms: memory resource limit alarm cleared on node {0}: {1} resident, high watermark {2}", _node,
                    ByteSize.Format(used), ByteSize.Format(limit));
            }
        }

        if (disk != hadDisk)
        {
            if (disk)
            {
                _log.Warning("alarms: disk resource limit alarm set on node {0}: {1} free in {2}, below the limit {3}; " +
                    "publishers on every node are blocked until it clears", _node, ByteSize.Format(free!.Value), directory,
                    ByteSize.Format(_alarms.DiskFreeLimit));
            }
            else
            {
                _log.Warning("alarms: disk resource limit alarm cleared on node {0}: {1} free, limit {2}", _node,
                    free is { } f ? ByteSize.Format(f) : "unknown", ByteSize.Format(_alarms.DiskFreeLimit));
            }
        }

        if (memory == hadMemory && disk == hadDisk)
        {
            return false;
        }

        var local = ImmutableArray.CreateBuilder<AlarmResource>();
        if (memory)
        {
            local.Add(AlarmResource.Memory);
        }

        if (disk)
        {
            local.Add(AlarmResource.Disk);
        }

        _local = local.ToImmutable();
        return true;
    }

    private void SendToPeers() => Cluster.PeerReports<NodeAlarms>.TellPeers(Context.System, ActorName, new NodeAlarms(_node, _local), Self);

    /// <summary>Publishes the alarms in effect in the cluster if they differ from what was last published.</summary>
    private void Publish()
    {
        var all = ImmutableArray.CreateBuilder<NodeAlarm>();
        foreach (var resource in _local)
        {
            all.Add(new NodeAlarm(_node, resource));
        }

        foreach (var alarms in _peers.Current)
        {
            foreach (var resource in alarms.Resources)
            {
                all.Add(new NodeAlarm(alarms.Node, resource));
            }
        }

        all.Sort((a, b) => string.CompareOrdinal(a.Node, b.Node) is var c and not 0 ? c : a.Resource.CompareTo(b.Resource));
        var current = all.ToImmutable();
        if (current.SequenceEqual(_published))
        {
            return;
        }

        foreach (var gone in _published.Except(current).Where(a => a.Node != _node))
        {
            _log.Info("alarms: {0} alarm of node {1} cleared", Describe(gone.Resource), gone.Node);
        }

        foreach (var added in current.Except(_published).Where(a => a.Node != _node))
        {
            _log.Warning("alarms: node {0} has a {1} alarm: publishers on this node are blocked too until it clears", added.Node,
                Describe(added.Resource));
        }

        _published = current;
        _alarms.Publish(current);
        Context.System.EventStream.Publish(new AlarmsChanged(current));
    }

    public static string Describe(AlarmResource resource) => resource == AlarmResource.Memory ? "memory" : "disk";

    private sealed class Tick : INoSerializationVerificationNeeded
    {
        public static readonly Tick Instance = new();
    }
}
