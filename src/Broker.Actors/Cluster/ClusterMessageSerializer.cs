using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Serialization;
using Broker.Actors.Exchanges;
using Broker.Actors.Queues;
using Broker.Actors.Routing;
using Broker.Actors.Topology;
using Broker.Protocol;

namespace Broker.Actors.Cluster;

/// <summary>
/// Writes the messages that cross nodes (<see cref="IClusterMessage"/>) in a compact binary form
/// built from AMQP wire types: short strings for names the protocol caps at 255 bytes, long
/// strings for free text, octets, shorts, longs, longlongs. A message body and its raw properties
/// travel as-is, without re-encoding; field tables in their AMQP wire encoding, so every value
/// type survives. Actor refs travel as their serialized path and are resolved on arrival.
/// <para>
/// The manifests are short and must never change meaning: nodes of different versions read
/// each other's messages during a rolling upgrade. Add new manifests for new messages or new
/// layouts; never reuse one.
/// </para>
/// </summary>
public sealed class ClusterMessageSerializer : SerializerWithStringManifest
{
    // Queue commands and answers.
    private const string DeclareQueueManifest = "qd";
    private const string QueueDeclareResultManifest = "qdr";
    private const string PublishManifest = "qp";
    private const string DirectReplyManifest = "cdr";
    private const string ConsumerPrefetchManifest = "qcp";
    private const string EnqueuedManifest = "qe";
    private const string EnqueueFailedManifest = "qef";
    private const string AddConsumerManifest = "qac";
    private const string ConsumerAddedManifest = "qca";
    private const string RemoveConsumerManifest = "qrc";
    private const string ConsumerRemovedManifest = "qcr";
    private const string GetMessageManifest = "qg";
    private const string GetResultManifest = "qgr";
    private const string SettleManifest = "qs";
    private const string ChannelGoneManifest = "qcg";
    private const string PurgeQueueManifest = "qpu";
    private const string QueuePurgedManifest = "qpd";
    private const string DeleteQueueManifest = "qx";
    private const string QueueDeletedManifest = "qxd";
    private const string WakeEntityManifest = "qw";
    private const string EntityAwakeManifest = "qwa";
    private const string FlushJournalManifest = "qf";
    private const string JournalFlushedManifest = "qfd";
    private const string QueueCommandFailedManifest = "qcf";
    private const string DeliverManifest = "qdl";
    private const string ConsumerCancelledManifest = "qcc";
    // Cumulative credit ("qpc"/"qdc" carried deltas in an earlier layout and are not reused).
    private const string PublishCreditManifest = "qpg";
    private const string PublishCreditProbeManifest = "qpp";
    private const string DeliveryCreditManifest = "qdw";

    // Exchange commands and answers.
    private const string DeclareExchangeManifest = "xd";
    private const string ExchangeDeclaredManifest = "xdd";
    private const string DeleteExchangeManifest = "xx";
    private const string ExchangeDeletedManifest = "xxd";
    private const string AddBindingManifest = "xb";
    private const string BindingAddedManifest = "xba";
    private const string RemoveBindingManifest = "xu";
    private const string BindingRemovedManifest = "xur";
    private const string RemoveBindingsToManifest = "xut";
    private const string BindingsRemovedManifest = "xus";
    private const string ExchangeCommandFailedManifest = "xcf";

    // Sharding.
    private const string StopEntityManifest = "cs";

    // Topology replication.
    private const string RouteChangedManifest = "tr";
    private const string PolicyChangedManifest = "tp";
    private const string PolicyGoneManifest = "tpx";
    private const string SetPolicyManifest = "ps";
    private const string ClearPolicyManifest = "pc";
    private const string PolicyDoneManifest = "pd";
    private const string PolicyFailedManifest = "pf";
    private const string ExchangeGoneManifest = "trx";
    private const string QueueChangedManifest = "tq";
    private const string QueueGoneManifest = "tqx";
    private const string TopologyAppliedManifest = "ta";
    private const string TopologySnapshotRequestManifest = "tsr";
    private const string TopologySnapshotManifest = "ts";
    private const string AccessStoreChangedManifest = "tac";
    private const string ChangeAccessManifest = "ac";
    private const string EnsureAccessManifest = "ae";
    private const string AccessDoneManifest = "ad";
    private const string AccessFailedManifest = "af";
    private const string VHostConnectionCountsManifest = "cn";
    private const string NodeAlarmsManifest = "al";

    // Management: statistics reports travel as JSON (large, rare, and read by people's tools anyway).
    private const string CollectNodeStatsManifest = "mc";
    private const string NodeStatsReportManifest = "mr";
    private const string CloseConnectionByNameManifest = "mx";
    private const string ConnectionCloseResultManifest = "mxr";

    public ClusterMessageSerializer(ExtendedActorSystem system) : base(system)
    {
    }

    public override int Identifier => 7102;

    public override string Manifest(object o) => o switch
    {
        DeclareQueue => DeclareQueueManifest,
        QueueDeclareResult => QueueDeclareResultManifest,
        Publish => PublishManifest,
        Channel.DirectReply => DirectReplyManifest,
        ConsumerPrefetch => ConsumerPrefetchManifest,
        Enqueued => EnqueuedManifest,
        EnqueueFailed => EnqueueFailedManifest,
        AddConsumer => AddConsumerManifest,
        ConsumerAdded => ConsumerAddedManifest,
        RemoveConsumer => RemoveConsumerManifest,
        ConsumerRemoved => ConsumerRemovedManifest,
        GetMessage => GetMessageManifest,
        GetResult => GetResultManifest,
        Settle => SettleManifest,
        ChannelGone => ChannelGoneManifest,
        PurgeQueue => PurgeQueueManifest,
        QueuePurged => QueuePurgedManifest,
        DeleteQueue => DeleteQueueManifest,
        QueueDeleted => QueueDeletedManifest,
        WakeEntity => WakeEntityManifest,
        EntityAwake => EntityAwakeManifest,
        FlushJournal => FlushJournalManifest,
        JournalFlushed => JournalFlushedManifest,
        QueueCommandFailed => QueueCommandFailedManifest,
        Deliver => DeliverManifest,
        ConsumerCancelled => ConsumerCancelledManifest,
        PublishCredit => PublishCreditManifest,
        PublishCreditProbe => PublishCreditProbeManifest,
        DeliveryCredit => DeliveryCreditManifest,
        DeclareExchange => DeclareExchangeManifest,
        ExchangeDeclared => ExchangeDeclaredManifest,
        DeleteExchange => DeleteExchangeManifest,
        ExchangeDeleted => ExchangeDeletedManifest,
        AddBinding => AddBindingManifest,
        BindingAdded => BindingAddedManifest,
        RemoveBinding => RemoveBindingManifest,
        BindingRemoved => BindingRemovedManifest,
        RemoveBindingsTo => RemoveBindingsToManifest,
        BindingsRemoved => BindingsRemovedManifest,
        ExchangeCommandFailed => ExchangeCommandFailedManifest,
        StopEntity => StopEntityManifest,
        RouteChanged => RouteChangedManifest,
        PolicyChanged => PolicyChangedManifest,
        PolicyGone => PolicyGoneManifest,
        Policies.SetPolicy => SetPolicyManifest,
        Policies.ClearPolicy => ClearPolicyManifest,
        Policies.PolicyDone => PolicyDoneManifest,
        Policies.PolicyFailed => PolicyFailedManifest,
        ExchangeGone => ExchangeGoneManifest,
        QueueChanged => QueueChangedManifest,
        QueueGone => QueueGoneManifest,
        TopologyApplied => TopologyAppliedManifest,
        TopologySnapshotRequest => TopologySnapshotRequestManifest,
        TopologySnapshot => TopologySnapshotManifest,
        Access.AccessStoreChanged => AccessStoreChangedManifest,
        Access.ChangeAccess => ChangeAccessManifest,
        Access.EnsureAccess => EnsureAccessManifest,
        Access.AccessDone => AccessDoneManifest,
        Access.AccessFailed => AccessFailedManifest,
        Connection.VHostConnectionCounts => VHostConnectionCountsManifest,
        Alarms.NodeAlarms => NodeAlarmsManifest,
        Management.CollectNodeStats => CollectNodeStatsManifest,
        Management.NodeStatsReport => NodeStatsReportManifest,
        Management.CloseConnectionByName => CloseConnectionByNameManifest,
        Management.ConnectionCloseResult => ConnectionCloseResultManifest,
        _ => throw new ArgumentException($"{o.GetType()} is not a cluster message"),
    };

    public override byte[] ToBinary(object obj)
    {
        var w = new AmqpWriter(obj switch
        {
            Publish p => 256 + MessageSize(p.Message),
            Deliver d => 256 + MessageSize(d.Message.Message),
            GetResult { Message: { } m } => 256 + MessageSize(m.Message),
            _ => 128,
        });
        switch (obj)
        {
            case DeclareQueue d:
                WriteQueueDefinition(w, d.Definition);
                WriteBool(w, d.Passive);
                WriteText(w, d.ConnectionId);
                WriteActorRef(w, d.Connection);
                break;
            case QueueDeclareResult r:
                w.WriteShortString(r.Name);
                w.WriteLong(r.MessageCount);
                w.WriteLong(r.ConsumerCount);
                break;
            case ConsumerPrefetch p:
                w.WriteShortString(p.Tag);
                w.WriteShort(p.Prefetch);
                break;
            case Channel.DirectReply d:
                WriteMessage(w, d.Message);
                w.WriteShortString(d.Secret);
                break;
            case Publish p:
                WriteMessage(w, p.Message);
                w.WriteLongLong((ulong)p.ConfirmId);
                break;
            case Enqueued e:
                WriteActorRef(w, e.Queue);
                w.WriteLongLong((ulong)e.ConfirmId);
                break;
            case EnqueueFailed f:
                WriteActorRef(w, f.Queue);
                w.WriteLongLong((ulong)f.ConfirmId);
                WriteText(w, f.Reason);
                break;
            case AddConsumer a:
                w.WriteShortString(a.Tag);
                WriteBool(w, a.NoAck);
                WriteBool(w, a.Exclusive);
                w.WriteShort(a.Prefetch);
                WriteText(w, a.ConnectionId);
                w.WriteLong((uint)a.Window);
                w.WriteLong((uint)a.Priority);
                break;
            case ConsumerAdded a:
                w.WriteShortString(a.Tag);
                break;
            case RemoveConsumer r:
                w.WriteShortString(r.Tag);
                break;
            case ConsumerRemoved r:
                w.WriteShortString(r.Tag);
                break;
            case GetMessage g:
                WriteBool(w, g.NoAck);
                WriteText(w, g.ConnectionId);
                break;
            case GetResult g:
                w.WriteShortString(g.Queue);
                if (g.Message is null)
                {
                    w.WriteOctet(0);
                }
                else
                {
                    w.WriteOctet(1);
                    WriteQueuedMessage(w, g.Message);
                }

                w.WriteLong(g.Remaining);
                break;
            case Settle s:
                w.WriteLong((uint)s.MessageIds.Length);
                foreach (var id in s.MessageIds)
                {
                    w.WriteLongLong((ulong)id);
                }

                w.WriteOctet((byte)s.Outcome);
                break;
            case ChannelGone c:
                WriteActorRef(w, c.Channel);
                break;
            case PurgeQueue p:
                WriteText(w, p.ConnectionId);
                break;
            case QueuePurged p:
                w.WriteLong(p.MessageCount);
                break;
            case DeleteQueue d:
                WriteBool(w, d.IfUnused);
                WriteBool(w, d.IfEmpty);
                WriteText(w, d.ConnectionId);
                break;
            case QueueDeleted d:
                w.WriteLong(d.MessageCount);
                break;
            case WakeEntity or FlushJournal or JournalFlushed or StopEntity:
                break;
            case EntityAwake a:
                WriteBool(w, a.Exists);
                break;
            case QueueCommandFailed f:
                WriteError(w, f.Error);
                break;
            case Deliver d:
                w.WriteShortString(d.Queue);
                WriteActorRef(w, d.QueueRef);
                w.WriteShortString(d.ConsumerTag);
                WriteQueuedMessage(w, d.Message);
                WriteBool(w, d.NoAck);
                break;
            case ConsumerCancelled c:
                w.WriteShortString(c.Queue);
                w.WriteShortString(c.ConsumerTag);
                break;
            case PublishCredit c:
                WriteActorRef(w, c.Queue);
                w.WriteLongLong((ulong)c.Granted);
                w.WriteLongLong((ulong)c.Received);
                break;
            case PublishCreditProbe:
                break;
            case DeliveryCredit c:
                w.WriteShortString(c.ConsumerTag);
                w.WriteLongLong((ulong)c.Written);
                break;
            case DeclareExchange d:
                WriteExchangeDefinition(w, d.Definition);
                WriteBool(w, d.Passive);
                break;
            case ExchangeDeclared d:
                w.WriteShortString(d.Name);
                break;
            case DeleteExchange d:
                WriteBool(w, d.IfUnused);
                break;
            case ExchangeDeleted d:
                w.WriteShortString(d.Name);
                break;
            case AddBinding a:
                WriteBinding(w, a.Binding);
                WriteBool(w, a.DestinationDurable);
                break;
            case BindingAdded a:
                WriteBinding(w, a.Binding);
                break;
            case RemoveBinding r:
                WriteBinding(w, r.Binding);
                break;
            case BindingRemoved r:
                WriteBinding(w, r.Binding);
                break;
            case RemoveBindingsTo r:
                w.WriteShortString(r.Destination);
                WriteBool(w, r.ToExchange);
                break;
            case BindingsRemoved r:
                w.WriteShortString(r.Destination);
                break;
            case ExchangeCommandFailed f:
                WriteError(w, f.Error);
                break;
            case ITopologyUpdate u:
                WriteTopologyUpdate(w, u);
                break;
            case TopologyApplied or TopologySnapshotRequest or Policies.PolicyDone or Access.EnsureAccess or Access.AccessDone
                or Management.CollectNodeStats:
                break;
            case Management.NodeStatsReport report:
                w.WriteLongString(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(report));
                break;
            case Management.CloseConnectionByName c:
                WriteText(w, c.Name);
                WriteText(w, c.Reason);
                break;
            case Management.ConnectionCloseResult c:
                WriteBool(w, c.Found);
                break;
            case Access.ChangeAccess c:
                w.WriteLongString(Access.AccessCodec.Encode(c.Change));
                break;
            case Access.AccessFailed f:
                WriteText(w, f.Reason);
                break;
            case Alarms.NodeAlarms a:
                w.WriteShortString(a.Node);
                w.WriteOctet((byte)a.Resources.Length);
                foreach (var resource in a.Resources)
                {
                    w.WriteOctet((byte)resource);
                }

                break;
            case Connection.VHostConnectionCounts c:
                w.WriteLong((uint)c.Counts.Count);
                foreach (var (vhost, n) in c.Counts)
                {
                    w.WriteShortString(vhost);
                    w.WriteLong((uint)n);
                }

                break;
            case Policies.SetPolicy p:
                Policies.PolicyCodec.Write(w, p.Policy);
                break;
            case Policies.ClearPolicy c:
                w.WriteShortString(c.VHost);
                w.WriteShortString(c.Name);
                break;
            case Policies.PolicyFailed f:
                WriteText(w, f.Reason);
                break;
            case TopologySnapshot t:
                WriteBool(w, t.Serving);
                w.WriteLong((uint)t.Updates.Count);
                foreach (var u in t.Updates)
                {
                    w.WriteShortString(Manifest(u));
                    WriteTopologyUpdate(w, u);
                }

                break;
            default:
                throw new ArgumentException($"{obj.GetType()} is not a cluster message");
        }

        return w.ToArray();
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        try
        {
            var r = new AmqpReader(bytes);
            object result = Read(ref r, manifest);
            if (r.Remaining != 0)
            {
                throw new SerializationException($"{r.Remaining} trailing bytes after cluster message '{manifest}'");
            }

            return result;
        }
        catch (AmqpException e)
        {
            throw new SerializationException($"malformed cluster message '{manifest}': {e.Message}", e);
        }
    }

    private object Read(ref AmqpReader r, string manifest)
    {
        switch (manifest)
        {
            case DeclareQueueManifest:
                return new DeclareQueue(ReadQueueDefinition(ref r), ReadBool(ref r), ReadText(ref r), ReadActorRef(ref r));
            case QueueDeclareResultManifest:
                return new QueueDeclareResult(r.ReadShortString(), r.ReadLong(), r.ReadLong());
            case ConsumerPrefetchManifest:
                return new ConsumerPrefetch(r.ReadShortString(), r.ReadShort());
            case DirectReplyManifest:
                return new Channel.DirectReply(ReadMessage(ref r), r.ReadShortString());
            case PublishManifest:
                return new Publish(ReadMessage(ref r), (long)r.ReadLongLong());
            case EnqueuedManifest:
                return new Enqueued(ReadActorRef(ref r), (long)r.ReadLongLong());
            case EnqueueFailedManifest:
                return new EnqueueFailed(ReadActorRef(ref r), (long)r.ReadLongLong(), ReadText(ref r));
            case AddConsumerManifest:
                return new AddConsumer(r.ReadShortString(), ReadBool(ref r), ReadBool(ref r), r.ReadShort(), ReadText(ref r),
                    (int)r.ReadLong(), (int)r.ReadLong());
            case ConsumerAddedManifest:
                return new ConsumerAdded(r.ReadShortString());
            case RemoveConsumerManifest:
                return new RemoveConsumer(r.ReadShortString());
            case ConsumerRemovedManifest:
                return new ConsumerRemoved(r.ReadShortString());
            case GetMessageManifest:
                return new GetMessage(ReadBool(ref r), ReadText(ref r));
            case GetResultManifest:
                {
                    string queue = r.ReadShortString();
                    QueuedMessage? message = r.ReadOctet() != 0 ? ReadQueuedMessage(ref r) : null;
                    return new GetResult(queue, message, r.ReadLong());
                }

            case SettleManifest:
                {
                    uint n = r.ReadLong();
                    if (n > (uint)(r.Remaining / 8))
                    {
                        throw new SerializationException($"settle of {n} ids exceeds the {r.Remaining} bytes left");
                    }

                    var ids = new long[n];
                    for (int i = 0; i < ids.Length; i++)
                    {
                        ids[i] = (long)r.ReadLongLong();
                    }

                    byte outcome = r.ReadOctet();
                    if (!Enum.IsDefined((Settlement)outcome))
                    {
                        throw new SerializationException($"unknown settlement {outcome}");
                    }

                    return new Settle(ids, (Settlement)outcome);
                }

            case ChannelGoneManifest:
                return new ChannelGone(ReadActorRef(ref r));
            case PurgeQueueManifest:
                return new PurgeQueue(ReadText(ref r));
            case QueuePurgedManifest:
                return new QueuePurged(r.ReadLong());
            case DeleteQueueManifest:
                return new DeleteQueue(ReadBool(ref r), ReadBool(ref r), ReadText(ref r));
            case QueueDeletedManifest:
                return new QueueDeleted(r.ReadLong());
            case WakeEntityManifest:
                return WakeEntity.Instance;
            case EntityAwakeManifest:
                return new EntityAwake(ReadBool(ref r));
            case FlushJournalManifest:
                return FlushJournal.Instance;
            case JournalFlushedManifest:
                return JournalFlushed.Instance;
            case QueueCommandFailedManifest:
                return new QueueCommandFailed(ReadError(ref r));
            case DeliverManifest:
                return new Deliver(r.ReadShortString(), ReadActorRef(ref r), r.ReadShortString(), ReadQueuedMessage(ref r),
                    ReadBool(ref r));
            case ConsumerCancelledManifest:
                return new ConsumerCancelled(r.ReadShortString(), r.ReadShortString());
            case PublishCreditManifest:
                return new PublishCredit(ReadActorRef(ref r), (long)r.ReadLongLong(), (long)r.ReadLongLong());
            case PublishCreditProbeManifest:
                return PublishCreditProbe.Instance;
            case DeliveryCreditManifest:
                return new DeliveryCredit(r.ReadShortString(), (long)r.ReadLongLong());
            case DeclareExchangeManifest:
                return new DeclareExchange(ReadExchangeDefinition(ref r), ReadBool(ref r));
            case ExchangeDeclaredManifest:
                return new ExchangeDeclared(r.ReadShortString());
            case DeleteExchangeManifest:
                return new DeleteExchange(ReadBool(ref r));
            case ExchangeDeletedManifest:
                return new ExchangeDeleted(r.ReadShortString());
            case AddBindingManifest:
                return new AddBinding(ReadBinding(ref r), ReadBool(ref r));
            case BindingAddedManifest:
                return new BindingAdded(ReadBinding(ref r));
            case RemoveBindingManifest:
                return new RemoveBinding(ReadBinding(ref r));
            case BindingRemovedManifest:
                return new BindingRemoved(ReadBinding(ref r));
            case RemoveBindingsToManifest:
                return new RemoveBindingsTo(r.ReadShortString(), ReadBool(ref r));
            case BindingsRemovedManifest:
                return new BindingsRemoved(r.ReadShortString());
            case ExchangeCommandFailedManifest:
                return new ExchangeCommandFailed(ReadError(ref r));
            case StopEntityManifest:
                return StopEntity.Instance;
            case RouteChangedManifest or ExchangeGoneManifest or QueueChangedManifest or QueueGoneManifest or PolicyChangedManifest
                or PolicyGoneManifest or AccessStoreChangedManifest:
                return ReadTopologyUpdate(ref r, manifest);
            case ChangeAccessManifest:
                return new Access.ChangeAccess(Access.AccessCodec.DecodeChange(r.ReadLongString()));
            case EnsureAccessManifest:
                return Access.EnsureAccess.Instance;
            case CollectNodeStatsManifest:
                return Management.CollectNodeStats.Instance;
            case NodeStatsReportManifest:
                return System.Text.Json.JsonSerializer.Deserialize<Management.NodeStatsReport>(r.ReadLongString())!;
            case CloseConnectionByNameManifest:
                return new Management.CloseConnectionByName(ReadText(ref r), ReadText(ref r));
            case ConnectionCloseResultManifest:
                return new Management.ConnectionCloseResult(ReadBool(ref r));
            case AccessDoneManifest:
                return Access.AccessDone.Instance;
            case AccessFailedManifest:
                return new Access.AccessFailed(ReadText(ref r));
            case NodeAlarmsManifest:
                {
                    string node = r.ReadShortString();
                    var resources = System.Collections.Immutable.ImmutableArray.CreateBuilder<Alarms.AlarmResource>(r.ReadOctet());
                    for (int i = resources.Capacity; i > 0; i--)
                    {
                        resources.Add((Alarms.AlarmResource)r.ReadOctet());
                    }

                    return new Alarms.NodeAlarms(node, resources.MoveToImmutable());
                }
            case VHostConnectionCountsManifest:
                {
                    int n = (int)r.ReadLong();
                    var counts = System.Collections.Immutable.ImmutableDictionary.CreateBuilder<string, int>();
                    for (int i = 0; i < n; i++)
                    {
                        counts[r.ReadShortString()] = (int)r.ReadLong();
                    }

                    return new Connection.VHostConnectionCounts(counts.ToImmutable());
                }
            case SetPolicyManifest:
                return new Policies.SetPolicy(Policies.PolicyCodec.Read(ref r));
            case ClearPolicyManifest:
                return new Policies.ClearPolicy(r.ReadShortString(), r.ReadShortString());
            case PolicyDoneManifest:
                return Policies.PolicyDone.Instance;
            case PolicyFailedManifest:
                return new Policies.PolicyFailed(ReadText(ref r));
            case TopologyAppliedManifest:
                return TopologyApplied.Instance;
            case TopologySnapshotRequestManifest:
                return TopologySnapshotRequest.Instance;
            case TopologySnapshotManifest:
                {
                    bool serving = ReadBool(ref r);
                    int n = (int)r.ReadLong();
                    var updates = new ITopologyUpdate[n];
                    for (int i = 0; i < n; i++)
                    {
                        updates[i] = ReadTopologyUpdate(ref r, r.ReadShortString());
                    }

                    return new TopologySnapshot(updates, serving);
                }

            default:
                throw new SerializationException($"unknown cluster message manifest '{manifest}'");
        }
    }

    private static void WriteTopologyUpdate(AmqpWriter w, ITopologyUpdate u)
    {
        w.WriteLongLong((ulong)u.Version.Epoch);
        w.WriteLongLong((ulong)u.Version.Seq);
        switch (u)
        {
            case RouteChanged c:
                WriteExchangeDefinition(w, c.Definition);
                w.WriteLong((uint)c.Bindings.Count);
                foreach (var b in c.Bindings)
                {
                    WriteBinding(w, b);
                }

                break;
            case ExchangeGone g:
                w.WriteShortString(g.VHost);
                w.WriteShortString(g.Name);
                break;
            case QueueChanged q:
                WriteQueueDefinition(w, q.Definition);
                WriteActorRef(w, q.Ref);
                WriteBool(w, q.OwnerConnectionId is not null);
                WriteText(w, q.OwnerConnectionId ?? string.Empty);
                break;
            case QueueGone g:
                w.WriteShortString(g.VHost);
                w.WriteShortString(g.Name);
                break;
            case PolicyChanged p:
                Policies.PolicyCodec.Write(w, p.Policy);
                break;
            case PolicyGone g:
                w.WriteShortString(g.VHost);
                w.WriteShortString(g.Name);
                break;
            case Access.AccessStoreChanged a:
                w.WriteLongString(Access.AccessCodec.Encode(a.Store));
                break;
            default:
                throw new ArgumentException($"{u.GetType()} is not a topology update");
        }
    }

    private ITopologyUpdate ReadTopologyUpdate(ref AmqpReader r, string manifest)
    {
        var version = new TopologyVersion((long)r.ReadLongLong(), (long)r.ReadLongLong());
        switch (manifest)
        {
            case RouteChangedManifest:
                {
                    var def = ReadExchangeDefinition(ref r);
                    int n = (int)r.ReadLong();
                    var bindings = new Binding[n];
                    for (int i = 0; i < n; i++)
                    {
                        bindings[i] = ReadBinding(ref r);
                    }

                    return new RouteChanged(def, bindings, version);
                }

            case ExchangeGoneManifest:
                return new ExchangeGone(r.ReadShortString(), r.ReadShortString(), version);
            case QueueChangedManifest:
                {
                    var def = ReadQueueDefinition(ref r);
                    var queue = ReadActorRef(ref r);
                    bool hasOwner = ReadBool(ref r);
                    string owner = ReadText(ref r);
                    return new QueueChanged(def, queue, hasOwner ? owner : null, version);
                }

            case QueueGoneManifest:
                return new QueueGone(r.ReadShortString(), r.ReadShortString(), version);
            case PolicyChangedManifest:
                return new PolicyChanged(Policies.PolicyCodec.Read(ref r), version);
            case PolicyGoneManifest:
                return new PolicyGone(r.ReadShortString(), r.ReadShortString(), version);
            case AccessStoreChangedManifest:
                return new Access.AccessStoreChanged(Access.AccessCodec.DecodeStore(r.ReadLongString()), version);
            default:
                throw new SerializationException($"unknown topology update manifest '{manifest}'");
        }
    }

    private static int MessageSize(Message m) => m.Body.Length + m.RawProperties.Length + 2 * 256;

    private static void WriteBool(AmqpWriter w, bool value) => w.WriteOctet(value ? (byte)1 : (byte)0);

    private static bool ReadBool(ref AmqpReader r) => r.ReadOctet() != 0;

    /// <summary>Free text (reasons, error texts, connection ids) as a UTF-8 long string: no 255-byte cap.</summary>
    private static void WriteText(AmqpWriter w, string value) => w.WriteLongString(Encoding.UTF8.GetBytes(value));

    private static string ReadText(ref AmqpReader r) => Encoding.UTF8.GetString(r.ReadLongString());

    private static void WriteActorRef(AmqpWriter w, IActorRef? actorRef)
    {
        if (actorRef is null || actorRef.IsNobody())
        {
            w.WriteLongString(ReadOnlySpan<byte>.Empty);
            return;
        }

        WriteText(w, Akka.Serialization.Serialization.SerializedActorPath(actorRef));
    }

    private IActorRef ReadActorRef(ref AmqpReader r)
    {
        string path = ReadText(ref r);
        return path.Length == 0 ? ActorRefs.Nobody : system.Provider.ResolveActorRef(path);
    }

    private static void WriteTable(AmqpWriter w, FieldTable table) => w.WriteLongString(ArgumentCodec.Encode(table));

    private static FieldTable ReadTable(ref AmqpReader r) => ArgumentCodec.Decode(r.ReadLongString());

    private static void WriteMessage(AmqpWriter w, Message m)
    {
        w.WriteShortString(m.Exchange);
        w.WriteShortString(m.RoutingKey);
        w.WriteLongString(m.RawProperties);
        w.WriteLongString(m.Body);
    }

    private static Message ReadMessage(ref AmqpReader r)
    {
        string exchange = r.ReadShortString(), routingKey = r.ReadShortString();
        byte[] rawProperties = r.ReadLongString();
        byte[] body = r.ReadLongString();
        return new Message(exchange, routingKey, ContentHeader.DecodeProperties(rawProperties), rawProperties, body);
    }

    private static void WriteQueuedMessage(AmqpWriter w, QueuedMessage m)
    {
        w.WriteLongLong((ulong)m.Id);
        WriteBool(w, m.Redelivered);
        WriteMessage(w, m.Message);
    }

    private static QueuedMessage ReadQueuedMessage(ref AmqpReader r)
    {
        long id = (long)r.ReadLongLong();
        bool redelivered = ReadBool(ref r);
        return new QueuedMessage(id, ReadMessage(ref r), redelivered);
    }

    private static void WriteError(AmqpWriter w, AmqpException e)
    {
        w.WriteShort(e.ReplyCode);
        WriteText(w, e.ReplyText);
        w.WriteShort(e.ClassId);
        w.WriteShort(e.MethodId);
    }

    private static AmqpException ReadError(ref AmqpReader r) =>
        new(r.ReadShort(), ReadText(ref r), r.ReadShort(), r.ReadShort());

    private static void WriteQueueDefinition(AmqpWriter w, QueueDefinition d)
    {
        w.WriteShortString(d.VHost);
        w.WriteShortString(d.Name);
        WriteBool(w, d.Durable);
        WriteBool(w, d.Exclusive);
        WriteBool(w, d.AutoDelete);
        WriteTable(w, d.Arguments);
    }

    private static QueueDefinition ReadQueueDefinition(ref AmqpReader r) =>
        new(r.ReadShortString(), r.ReadShortString(), ReadBool(ref r), ReadBool(ref r), ReadBool(ref r), ReadTable(ref r));

    private static void WriteExchangeDefinition(AmqpWriter w, ExchangeDefinition d)
    {
        w.WriteShortString(d.VHost);
        w.WriteShortString(d.Name);
        w.WriteShortString(d.Type);
        WriteBool(w, d.Durable);
        WriteBool(w, d.AutoDelete);
        WriteBool(w, d.Internal);
        WriteTable(w, d.Arguments);
    }

    private static ExchangeDefinition ReadExchangeDefinition(ref AmqpReader r) =>
        new(r.ReadShortString(), r.ReadShortString(), r.ReadShortString(), ReadBool(ref r), ReadBool(ref r), ReadBool(ref r),
            ReadTable(ref r));

    private static void WriteBinding(AmqpWriter w, Binding b)
    {
        w.WriteShortString(b.Source);
        w.WriteShortString(b.Destination);
        WriteBool(w, b.ToExchange);
        w.WriteShortString(b.RoutingKey);
        WriteTable(w, b.Arguments);
    }

    private static Binding ReadBinding(ref AmqpReader r) =>
        new(r.ReadShortString(), r.ReadShortString(), ReadBool(ref r), r.ReadShortString(), ReadTable(ref r));
}
