using System.Net;
using Akka;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.Event;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Broker.Actors.Cluster;
using Broker.Actors.Connection;
using Broker.Actors.Exchanges;
using Broker.Actors.Persistence;
using Broker.Actors.Queues;
using Broker.Actors.Routing;
using Broker.Actors.Topology;
using Broker.Actors.Transport;
using Broker.Protocol;

namespace Broker.Actors;

/// <summary>
/// A running broker node: the actor system (a cluster, of one node unless seeds are configured),
/// this node's topology replica, the queue and exchange shard regions, the home of node-local
/// queues, the pre-declared exchanges and the AMQP TCP listener.
/// </summary>
public sealed class BrokerServer : IAsyncDisposable
{
    private const int MaxShards = 100;

    private readonly ILoggingAdapter _log;
    private readonly List<SocketListener> _listeners = new();
    private readonly List<TlsListener> _tlsListeners = new();
    private FreezeWatchdog? _freezeWatchdog;
    private long _connectionSeq;
    private bool _stopped;

    private BrokerServer(ActorSystem system, BrokerContext context)
    {
        Actors = system;
        Context = context;
        _log = Logging.GetLogger(system, "broker");
    }

    public ActorSystem Actors { get; }

    public BrokerContext Context { get; }

    /// <summary>The address the AMQP listener is bound to (with the real port when 0 was asked for).</summary>
    public IPEndPoint? Endpoint { get; private set; }

    /// <summary>The address the amqps listener is bound to; null without TLS.</summary>
    public IPEndPoint? TlsEndpoint { get; private set; }

    /// <summary>Every address the AMQP listeners are bound to (a loopback bind listens on both loopbacks).</summary>
    public List<EndPoint> AmqpListeners { get; } = new();

    /// <summary>Every address the AMQPS listeners are bound to.</summary>
    public List<EndPoint> AmqpsListeners { get; } = new();

    /// <summary>Starts a node: joins (or forms) the cluster, starts sharding and listens for AMQP.</summary>
    public static async Task<BrokerServer> StartAsync(BrokerSettings settings, Config akkaConfig, CancellationToken ct = default)
    {
        // Sharding's, distributed data's and singletons' settings (their serializers above all) are
        // in place before the node is visible: a node with seeds joins as soon as its actor system
        // starts, and peers send it sharding state right away.
        var system = ActorSystem.Create(SystemName, akkaConfig
            .WithFallback(ClusterSharding.DefaultConfig())
            .WithFallback(Akka.DistributedData.DistributedData.DefaultConfig())
            .WithFallback(Akka.Cluster.Tools.Singleton.ClusterSingleton.DefaultConfig()));
        var context = new BrokerContext(settings);
        // Page files are a cache of the previous run's queues: nothing in them is needed now.
        if (Directory.Exists(context.PagesDirectory))
        {
            Directory.Delete(context.PagesDirectory, recursive: true);
        }

        var server = new BrokerServer(system, context);
        try
        {
            if (settings.JournalIndex is not null)
            {
                await using (settings.JournalInitLock is { } initLock ? await initLock.AcquireAsync(ct) : null)
                {
                    await server.WarmUpJournalAsync();
                }
            }

            await server.RegisterFenceAsync(ct);
            server.StartTopology();
            await server.JoinClusterAsync(ct);
            bool clusterServing = await server.CopyTopologyFromPeerAsync();
            await server.StartShardingAsync();
            if (clusterServing)
            {
                // Joining a running cluster: its durable queues run on their nodes (sharding
                // restarts any that lost theirs); waking them from here would only slow the start.
                server._log.Info("Joined a serving cluster: {0} queue(s) and {1} exchange(s) known", server.Context.Queues.Count,
                    server.Context.Routes.Count);
            }
            else
            {
                // A cold start: queues are allocated once every seed node is in (StartupAllocationStrategy).
                await server.RecoverDurableEntitiesAsync();
            }

            await server.LoadAccessStoreAsync();
            await server.DeclareBuiltInExchangesAsync();
            server.Context.TopologyRecovered.TrySetResult();
            await server.BindAsync();
            server.Context.Topology.Serving = true;
        }
        catch
        {
            await system.Terminate();
            await server.ReleaseFenceAsync();
            throw;
        }

        return server;
    }

    /// <summary>The actor system's name, part of every cluster address (the same on every node).</summary>
    public const string SystemName = "broker";

    /// <summary>How long a node waits to become a member (its seeds may still be starting).</summary>
    private static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(120);

    /// <summary>Starts the journal and snapshot store (which creates their tables) and waits until they answered a recovery.</summary>
    private async Task WarmUpJournalAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Actors.ActorOf(Props.Create(() => new JournalWarmUp(done)), "journal-warm-up");
        await done.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>
    /// With a fence, the node takes its lock and lease before it joins (peers can then tell when
    /// it dies) and before any queue of it writes (the write check knows its sessions).
    /// </summary>
    private async Task RegisterFenceAsync(CancellationToken ct)
    {
        if (Context.Settings.Fence is not { } fence)
        {
            return;
        }

        Context.Lease.Suspend();
        var self = Akka.Cluster.Cluster.Get(Actors).SelfUniqueAddress;
        long sentAt = System.Diagnostics.Stopwatch.GetTimestamp();
        await fence.RegisterAsync(self.Address.ToString(), self.Uid, Context.Settings.NodeName, ct);
        Context.Lease.Renewed(sentAt, fence.LeaseDuration);
        var lease = Context.Lease;
        Actors.ActorOf(Props.Create(() => new LeaseKeeperActor(fence, lease)), LeaseKeeperActor.ActorName);
        _log.Info("Node {0} holds its lease as {1} (lease {2:F1} s)", Context.Settings.NodeName, fence.Incarnation,
            fence.LeaseDuration.TotalSeconds);
    }

    /// <summary>The replica's actor must exist before other nodes can see this one.</summary>
    private void StartTopology()
    {
        Context.Topology.Attach(Actors);
        var ctx = Context;
        Actors.ActorOf(Props.Create(() => new TopologyActor(ctx)), TopologyReplicator.ActorName);
        ctx.LocalQueues = Actors.ActorOf(Props.Create(() => new LocalQueuesActor(ctx)), LocalQueuesActor.ActorName);
        Actors.ActorOf(Props.Create(() => new ConnectionTrackerActor(ctx)), ConnectionTrackerActor.ActorName);
        Actors.ActorOf(Props.Create(() => new Alarms.AlarmMonitorActor(ctx)), Alarms.AlarmMonitorActor.ActorName);
        Actors.ActorOf(Props.Create(() => new MembershipLogActor()), MembershipLogActor.ActorName);
        Actors.ActorOf(Props.Create(() => new Management.ManagementActor(ctx)), Management.ManagementActor.ActorName);
    }

    private async Task JoinClusterAsync(CancellationToken ct)
    {
        var cluster = Akka.Cluster.Cluster.Get(Actors);
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.RegisterOnMemberUp(() => up.TrySetResult());
        var seeds = Context.Settings.SeedNodes.Select(Address.Parse).ToList();
        if (seeds.Count == 0)
        {
            // A single node is a cluster of one that seeds itself.
            cluster.Join(cluster.SelfAddress);
        }
        else
        {
            _log.Info("Node {0} joining the cluster through its seeds {1}", Context.Settings.NodeName, string.Join(", ", seeds));
            cluster.JoinSeedNodes(seeds);
        }

        try
        {
            await up.Task.WaitAsync(JoinTimeout, ct);
        }
        catch (TimeoutException)
        {
            throw new InvalidOperationException(
                $"not a member of a cluster after {JoinTimeout.TotalSeconds:0} s: no seed node answered ({string.Join(", ", seeds)})");
        }

        // A node that is downed (split-brain resolver, or removed while frozen) stops its actor
        // system; the process then exits instead of serving clients outside the cluster.
        _ = Actors.WhenTerminated.ContinueWith(_ => Terminated.TrySetResult());
        if (seeds.Count > 0)
        {
            // Frozen longer than the others need to down it: they may have done so, and this node
            // must then not go on alone.
            _freezeWatchdog = new FreezeWatchdog(Actors, FreezeLimit);
        }

        _log.Debug("Node {0} is up in cluster '{1}'", Context.Settings.NodeName, Context.Settings.ClusterName);
    }

    /// <summary>
    /// How long the others need at least to down a frozen node: its lease plus the silence a
    /// peer allows (LeaseKeeperActor), or, without a fence (or with a long lease), missed
    /// heartbeats (1 s + 2.5 s pause) and the resolver's stable-after: about 4 s.
    /// </summary>
    private TimeSpan FreezeLimit
    {
        get
        {
            var heartbeats = TimeSpan.FromSeconds(4);
            return Context.Settings.Fence is { } fence && fence.LeaseDuration + LeaseKeeperActor.Silence < heartbeats
                ? fence.LeaseDuration + LeaseKeeperActor.Silence
                : heartbeats;
        }
    }

    /// <summary>Completes when the actor system stopped by itself (downed) or at shutdown.</summary>
    public TaskCompletionSource Terminated { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// A joining node copies the topology from another member before it serves clients. True when
    /// that member is serving already (the cluster is running, not starting).
    /// </summary>
    private async Task<bool> CopyTopologyFromPeerAsync()
    {
        foreach (var peer in TopologyReplicator.Peers(Actors))
        {
            try
            {
                var snapshot = await TopologyReplicator.TopologyActorOf(Actors, peer)
                    .Ask<TopologySnapshot>(TopologySnapshotRequest.Instance, TimeSpan.FromSeconds(10));
                foreach (var u in snapshot.Updates)
                {
                    Context.Topology.Apply(u);
                }

                _log.Info("Copied the topology ({0} entries) from {1}", snapshot.Updates.Count, peer);
                if (snapshot.Serving)
                {
                    return true;
                }
            }
            catch (Exception e) when (e is TimeoutException or AskTimeoutException)
            {
                _log.Warning("No topology from {0} within 10 s; trying another member", peer);
            }
        }

        // No member serves yet: the cluster is starting (what members had is copied all the same).
        return false;
    }

    /// <summary>How long a cold-starting cluster waits for the other seed nodes before it places the queues on the nodes that are up.</summary>
    private static readonly TimeSpan SeedWaitTimeout = TimeSpan.FromSeconds(20);

    private async Task StartShardingAsync()
    {
        var sharding = ClusterSharding.Get(Actors);
        var settings = ClusterShardingSettings.Create(Actors);
        var extractor = new EntityMessageExtractor(MaxShards);
        var ctx = Context;
        // Entities stop on StopEntity, not PoisonPill: a queue moving to another node finishes its journal writes first.
        int seeds = Math.Max(1, Context.Settings.SeedNodes.Distinct().Count());
        IShardAllocationStrategy Allocation() =>
            new StartupAllocationStrategy(sharding.DefaultShardAllocationStrategy(settings), seeds, SeedWaitTimeout,
                () => ctx.Topology.Serving);
        ctx.QueueRegion = await sharding.StartAsync("queue", id => Props.Create(() => new QueueActor(ctx, id)), settings, extractor,
            Allocation(), StopEntity.Instance);
        ctx.ExchangeRegion = await sharding.StartAsync("exchange", id => Props.Create(() => new ExchangeActor(ctx, id)), settings,
            extractor, Allocation(), StopEntity.Instance);
        ctx.PolicyRegion = await sharding.StartAsync("policy", id => Props.Create(() => new Policies.PolicyActor(ctx, id)), settings,
            extractor, Allocation(), StopEntity.Instance);
        ctx.AccessRegion = await sharding.StartAsync("access", _ => Props.Create(() => new Access.AccessActor(ctx)), settings,
            extractor, Allocation(), StopEntity.Instance);
    }

    /// <summary>
    /// Users, vhosts and permissions are in this node's replica before it serves a client: the
    /// access store recovers (or, the first time, is created) and replicates itself.
    /// </summary>
    private async Task LoadAccessStoreAsync()
    {
        var store = await Context.AccessRegion.Ask<Access.AccessStoreChanged>(
            new ShardingEnvelope(Access.AccessActor.EntityId, Access.EnsureAccess.Instance), TimeSpan.FromMinutes(2));
        Context.Topology.Apply(store);
        if (!Context.Access.Loaded)
        {
            throw new InvalidOperationException("the access store did not load");
        }
    }

    /// <summary>
    /// Wakes every queue and exchange that has a journal, exchanges first (so their routes are in
    /// place), and waits until each has recovered: clients connect to a broker that is whole again.
    /// </summary>
    private async Task RecoverDurableEntitiesAsync()
    {
        if (Context.Settings.JournalIndex is not { } index)
        {
            return;
        }

        var started = DateTime.UtcNow;
        var ids = await index.PersistenceIdsAsync(CancellationToken.None);

        // Policies first: a queue applies its policy as it recovers.
        await WakeAllAsync(ids, "policy-", Context.PolicyRegion);
        int exchanges = await WakeAllAsync(ids, "exchange-", Context.ExchangeRegion);
        int queues = await WakeAllAsync(ids, "queue-", Context.QueueRegion);
        _log.Info("Recovered {0} durable exchange(s) and {1} durable queue(s) in {2:F2} s from the {3}",
            exchanges, queues, (DateTime.UtcNow - started).TotalSeconds, Context.Settings.JournalDescription);
    }

    /// <summary>How long one wake may go unanswered before it is sent again (a deep queue may take this long to recover).</summary>
    private static readonly TimeSpan WakeAttemptTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Wakes sent to one entity before the start fails: 10 minutes in all.</summary>
    private const int MaxWakeAttempts = 20;

    /// <summary>
    /// Wakes one entity and waits until it has recovered. A wake can be lost: a shard that does not
    /// load its remembered entities in time is stopped and started again, and drops what it had
    /// buffered. Waking again is harmless (a recovering entity answers once it has recovered).
    /// </summary>
    private static async Task<EntityAwake> WakeAsync(IActorRef region, string entityId)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await region.Ask<EntityAwake>(new ShardingEnvelope(entityId, WakeEntity.Instance), WakeAttemptTimeout);
            }
            catch (AskTimeoutException) when (attempt < MaxWakeAttempts)
            {
            }
        }
    }

    private static async Task<int> WakeAllAsync(IReadOnlyList<string> persistenceIds, string prefix, IActorRef region)
    {
        var wakes = persistenceIds
            .Where(id => id.StartsWith(prefix, StringComparison.Ordinal))
            .Select(id =>
            {
                var suffix = id[prefix.Length..];
                int bar = suffix.IndexOf('|');
                var entityId = bar < 0 ? EntityIds.For("/", suffix) : EntityIds.For(suffix[..bar], suffix[(bar + 1)..]);
                return WakeAsync(region, entityId);
            })
            .ToList();
        var results = await Task.WhenAll(wakes);
        return results.Count(r => r.Exists);
    }

    private async Task DeclareBuiltInExchangesAsync()
    {
        foreach (var vhost in Context.Access.Current.Store.VHosts)
        {
            await Context.DeclareBuiltInExchangesAsync(vhost.Name);
        }
    }

    private async Task BindAsync()
    {
        var s = Context.Settings;
        var materializer = Actors.Materializer();
        int port = s.AmqpPort;
        foreach (var (address, implied) in ListenAddresses(s.BindAddress))
        {
            SocketListener listener;
            try
            {
                listener = SocketListener.Start(address, port, "amqp", _log, socket => Accept(socket, materializer));
            }
            catch (Exception e) when (implied)
            {
                _log.Warning("Not listening for AMQP on {0}:{1} as well: {2}", address, port, e.GetBaseException().Message);
                continue;
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"cannot listen for AMQP on {address}:{port}: {e.Message}", e);
            }

            _listeners.Add(listener);
            Endpoint ??= listener.LocalEndpoint;
            port = Endpoint.Port; // with port 0, every address listens on the port the first one got
            AmqpListeners.Add(listener.LocalEndpoint);
            // The node's banner names it (Program); here for DEBUG and in-process hosts.
            _log.Debug("AMQP listener started on {0}", listener.LocalEndpoint);
        }

        if (s.Tls is not { } tls)
        {
            return;
        }

        int tlsPort = tls.Port;
        foreach (var (address, implied) in ListenAddresses(s.BindAddress))
        {
            TlsListener listener;
            try
            {
                listener = TlsListener.Start(address, tlsPort, tls, _log,
                    (ssl, remote, local, user) => AcceptTls(ssl, remote, local, user, materializer));
            }
            catch (Exception e) when (implied)
            {
                _log.Warning("Not listening for AMQPS on {0}:{1} as well: {2}", address, tlsPort, e.GetBaseException().Message);
                continue;
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"cannot listen for AMQPS on {address}:{tlsPort}: {e.Message}", e);
            }

            _tlsListeners.Add(listener);
            TlsEndpoint ??= listener.LocalEndpoint;
            tlsPort = TlsEndpoint.Port;
            AmqpsListeners.Add(listener.LocalEndpoint);
            _log.Debug("AMQPS listener started on {0} (TLS 1.2/1.3{1})", listener.LocalEndpoint,
                tls.VerifyPeer ? ", client certificates required" : string.Empty);
        }
    }

    /// <summary>
    /// The addresses to listen on, and whether each was asked for or only implied (its listener
    /// may fail: a machine without IPv6). Loopback means both loopbacks, since clients resolve
    /// localhost to ::1 first; "every interface" (0.0.0.0 or ::) means every address of this
    /// machine, of both families, one listener each, so the banner names every address a client
    /// can use.
    /// </summary>
    private static List<(IPAddress Address, bool Implied)> ListenAddresses(IPAddress bind)
    {
        if (IPAddress.IsLoopback(bind))
        {
            var other = bind.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? IPAddress.IPv6Loopback : IPAddress.Loopback;
            return other.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !System.Net.Sockets.Socket.OSSupportsIPv6
                ? [(bind, false)]
                : [(bind, false), (other, true)];
        }

        if (!bind.Equals(IPAddress.Any) && !bind.Equals(IPAddress.IPv6Any))
        {
            return [(bind, false)];
        }

        var family = bind.AddressFamily;
        return System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus is System.Net.NetworkInformation.OperationalStatus.Up
                or System.Net.NetworkInformation.OperationalStatus.Unknown)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses.Select(a => a.Address))
            .Where(a => !a.IsIPv6LinkLocal && !a.IsIPv4MappedToIPv6)
            .Distinct()
            .OrderBy(a => a.AddressFamily == family ? 0 : 1)
            .ThenBy(a => IPAddress.IsLoopback(a) ? 0 : 1)
            .Select(a => (a, a.AddressFamily != family))
            .ToList();
    }

    private void Accept(System.Net.Sockets.Socket socket, IMaterializer materializer)
    {
        if (_stopped)
        {
            // Shutting down: a connection accepted now is closed right away.
            socket.Dispose();
            return;
        }

        // A socket reset before it could be set up makes these throw: the listener drops it.
        var remote = socket.RemoteEndPoint;
        var local = socket.LocalEndPoint;
        ConnectionStream.Run(new System.Net.Sockets.NetworkStream(socket, ownsSocket: true),
            ConnectionFlow(remote, local, ssl: false, null), materializer);
    }

    private void AcceptTls(System.Net.Security.SslStream ssl, EndPoint? remote, EndPoint? local, string? certificateUser, IMaterializer materializer)
    {
        if (_stopped)
        {
            ssl.Dispose();
            return;
        }

        ConnectionStream.Run(ssl, ConnectionFlow(remote, local, ssl: true, certificateUser), materializer);
    }

    /// <summary>One client connection: bytes in go through the frame decoder to a new ConnectionActor, whose frames come back out.</summary>
    private Flow<ByteString, ByteString, NotUsed> ConnectionFlow(EndPoint? remote, EndPoint? local, bool ssl, string? certificateUser)
    {
        var s = Context.Settings;
        string name = $"{remote} -> {local}";
        var stats = new Stats.ConnectionStats(name, HostOf(remote), PortOf(remote), HostOf(local), PortOf(local), ssl);
        var outbound = new OutboundFrames { Stats = stats };
        var ctx = Context;
        var actor = Actors.ActorOf(
            Props.Create(() => new ConnectionActor(ctx, outbound, remote, stats, certificateUser)),
            $"connection-{Interlocked.Increment(ref _connectionSeq)}");
        Context.Connections.Add(actor, stats);

        var inbound = Flow.Create<ByteString>()
            .Via(new FrameDecoderStage(s.FrameMax, s.MaxMessageSize, stats))
            .To(Sink.ActorRefWithAck<InboundBatch>(actor, StreamInit.Instance, StreamAck.Instance,
                StreamCompleted.Instance, ex => new StreamFailed(ex)));
        var output = Context.Settings.Fence is null ? outbound.AsSource() : outbound.AsSource().Via(new LeaseGateStage(Context.Lease));
        return Flow.FromSinkAndSource(inbound, output);
    }

    private static string HostOf(EndPoint? endpoint) => endpoint switch
    {
        IPEndPoint ip => (ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address).ToString(),
        DnsEndPoint dns => dns.Host,
        _ => string.Empty,
    };

    private static int PortOf(EndPoint? endpoint) => endpoint switch
    {
        IPEndPoint ip => ip.Port,
        DnsEndPoint dns => dns.Port,
        _ => 0,
    };

    /// <summary>
    /// Closes every connection with 320 CONNECTION_FORCED (unacked messages go back to their
    /// queues), stops accepting, then leaves the cluster and terminates the actor system.
    /// </summary>
    public async Task StopAsync(string reason = "broker shutdown")
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        _freezeWatchdog?.Dispose();
        if (Actors.WhenTerminated.IsCompleted)
        {
            // Downed by the cluster: the actor system, and with it every connection, is gone already.
            StopAccepting();
            await ReleaseFenceAsync();
            return;
        }

        _log.Info("Stopping: closing {0} connection(s) with 320 CONNECTION_FORCED ({1})", Context.Connections.Count, reason);
        // Connections first; until the listeners close below, a client that connects meanwhile is
        // accepted and closed at once (_stopped).
        foreach (var c in Context.Connections.All)
        {
            c.Tell(new ForceClose(reason));
        }

        var deadline = DateTime.UtcNow + Context.Settings.CloseTimeout + TimeSpan.FromSeconds(1);
        while (Context.Connections.Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        StopAccepting();
        await FlushJournalsAsync();

        await CoordinatedShutdown.Get(Actors).Run(CoordinatedShutdown.ClrExitReason.Instance);
        await ReleaseFenceAsync();
    }

    /// <summary>Closes the listening sockets (connections accepted already are their streams' to close).</summary>
    private void StopAccepting()
    {
        foreach (var listener in _listeners)
        {
            listener.Dispose();
        }

        foreach (var listener in _tlsListeners)
        {
            listener.Dispose();
        }
    }

    /// <summary>Once out of the cluster, the node's lock is released: peers see it gone.</summary>
    private async Task ReleaseFenceAsync()
    {
        if (Context.Settings.Fence is { } fence)
        {
            await fence.DisposeAsync();
        }
    }

    /// <summary>Makes every queue write what it has batched (acks above all) before the node stops.</summary>
    private async Task FlushJournalsAsync()
    {
        var flushes = Context.Queues.All
            .Where(q => !q.NodeLocal && q.Available && q.Ref.Path.Address.HasLocalScope)
            .Select(q => q.Ref.Ask<JournalFlushed>(FlushJournal.Instance, TimeSpan.FromSeconds(10)))
            .ToList();
        try
        {
            await Task.WhenAll(flushes);
        }
        catch (Exception e)
        {
            _log.Warning("Some queues did not confirm their last journal writes before shutdown: {0}", e.Message);
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
