using System.Net;

namespace Broker.Actors;

/// <summary>The broker's settings after configuration was read and checked (see Broker.Node's BrokerConfig).</summary>
public sealed record BrokerSettings
{
    public IPAddress BindAddress { get; init; } = IPAddress.Loopback;
    public int AmqpPort { get; init; } = 5672;
    public string DataDirectory { get; init; } = "data";

    /// <summary>Largest frame the server accepts and proposes in connection.tune.</summary>
    public int FrameMax { get; init; } = 131072;

    public ushort ChannelMax { get; init; } = 2047;

    /// <summary>Heartbeat interval proposed in connection.tune, seconds (0 disables).</summary>
    public ushort Heartbeat { get; init; } = 60;

    /// <summary>Largest message body accepted (RabbitMQ's max_message_size default).</summary>
    public long MaxMessageSize { get; init; } = 128L * 1024 * 1024;

    /// <summary>How long the broker waits for close-ok after sending connection.close.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// RabbitMQ's consumer_timeout: a delivery left unacknowledged longer closes its channel with
    /// 406 (and the message is requeued); null for none.
    /// </summary>
    public TimeSpan? ConsumerTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Resident memory above this sets the memory alarm (RabbitMQ's vm_memory_high_watermark; can be changed at run time).</summary>
    public Alarms.MemoryWatermark MemoryHighWatermark { get; init; } = Alarms.MemoryWatermark.Default;

    /// <summary>Free disk space in the data directory below this many bytes sets the disk alarm (RabbitMQ's disk_free_limit).</summary>
    public long DiskFreeLimit { get; init; } = 50_000_000;

    /// <summary>
    /// Memory a queue's ready messages may take before further messages go whole to the queue's page file
    /// (each message counted as its body plus <see cref="Queues.ReadyMessages.EntryOverhead"/>); 0: never page.
    /// </summary>
    public long QueueMemoryBudget { get; init; } = 16L << 20;

    /// <summary>Open AMQP connections this node takes (RabbitMQ's connection_max); null: no limit.</summary>
    public int? ConnectionMax { get; init; }

    /// <summary>How long a handshake may take from TCP accept to connection.open.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The user a new cluster's access store starts with (an administrator with every permission on VirtualHosts).</summary>
    public string DefaultUser { get; init; } = "guest";

    public string DefaultPassword { get; init; } = "guest";

    /// <summary>The vhosts a new cluster's access store starts with; later ones are added with `vhosts add`.</summary>
    public IReadOnlyList<string> VirtualHosts { get; init; } = new[] { "/" };

    /// <summary>Users that may only connect from a loopback address (RabbitMQ's loopback_users: guest).</summary>
    public IReadOnlyList<string> LoopbackUsers { get; init; } = new[] { "guest" };

    /// <summary>The amqps listener's TLS settings; null: no amqps listener.</summary>
    public Transport.TlsSettings? Tls { get; init; }

    /// <summary>Reported to clients as cluster_name; the same on every node of a cluster.</summary>
    public string ClusterName { get; init; } = "broker@" + Environment.MachineName;

    /// <summary>Cluster addresses (akka.tcp://broker@host:port) of the seed nodes; empty for a cluster of one.</summary>
    public IReadOnlyList<string> SeedNodes { get; init; } = Array.Empty<string>();

    /// <summary>This node's name in logs.</summary>
    public string NodeName { get; init; } = "broker@" + Environment.MachineName;

    /// <summary>Held while the journal creates its tables at start-up (PostgreSQL shared by several nodes); null if not needed.</summary>
    public IJournalInitLock? JournalInitLock { get; init; }

    /// <summary>The node's lease, lock and queue ownership in the shared journal's database; null without one (see INodeFence).</summary>
    public Cluster.INodeFence? Fence { get; init; }

    /// <summary>
    /// What the journal holds, read at start-up to find durable queues and exchanges and recover
    /// them before clients connect; null when nothing outlives the process (in-memory journal).
    /// </summary>
    public IJournalIndex? JournalIndex { get; init; }

    /// <summary>Journal rows read back on demand by recovered queues (null: a queue recovers every body from the replay).</summary>
    public IJournalRows? JournalRows { get; init; }

    /// <summary>Where the journal lives, for logs ("SQLite file ...", "PostgreSQL ...").</summary>
    public string JournalDescription { get; init; } = "in-memory journal";
}
