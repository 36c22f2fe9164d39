using Akka.Actor;
using Akka.Serialization;
using Broker.Actors.Exchanges;
using Broker.Actors.Queues;
using Broker.Protocol;

namespace Broker.Actors.Persistence;

/// <summary>
/// Writes journal events in a compact binary form built from AMQP wire types (short strings,
/// long strings, octets), with two-letter manifests that must never change meaning: they are
/// what a restarted broker reads back. A message body is stored as-is, without re-encoding.
/// </summary>
public sealed class JournalEventSerializer : SerializerWithStringManifest
{
    private const string QueueCreatedManifest = "qc";
    /// <summary>Messages without expiry: written by earlier versions, still read.</summary>
    private const string MessagesEnqueuedManifest = "qe";

    /// <summary>Messages with their expiry time.</summary>
    private const string MessagesEnqueuedWithExpiryManifest = "qm";
    private const string MessagesRemovedManifest = "qr";
    private const string DeliveryWatermarkManifest = "qw";
    private const string QueueRemovedManifest = "qx";
    private const string ExchangeCreatedManifest = "xc";
    private const string ExchangeRemovedManifest = "xr";
    private const string ExchangeBoundManifest = "xb";
    private const string ExchangeUnboundManifest = "xu";
    private const string ExchangeSnapshotManifest = "xs";
    private const string PolicyDefinedManifest = "pd";
    private const string PolicyClearedManifest = "px";
    private const string AccessDefinedManifest = "ad";

    public JournalEventSerializer(ExtendedActorSystem system) : base(system)
    {
    }

    public override int Identifier => 7101;

    public override string Manifest(object o) => o switch
    {
        QueueCreated => QueueCreatedManifest,
        MessagesEnqueued => MessagesEnqueuedWithExpiryManifest,
        MessagesRemoved => MessagesRemovedManifest,
        DeliveryWatermark => DeliveryWatermarkManifest,
        QueueRemoved => QueueRemovedManifest,
        ExchangeCreated => ExchangeCreatedManifest,
        ExchangeRemoved => ExchangeRemovedManifest,
        ExchangeBound => ExchangeBoundManifest,
        ExchangeUnbound => ExchangeUnboundManifest,
        ExchangeSnapshot => ExchangeSnapshotManifest,
        Policies.PolicyDefined => PolicyDefinedManifest,
        Policies.PolicyCleared => PolicyClearedManifest,
        Access.AccessDefined => AccessDefinedManifest,
        _ => throw new ArgumentException($"{o.GetType()} is not a journal event"),
    };

    public override byte[] ToBinary(object obj)
    {
        var w = new AmqpWriter(obj is MessagesEnqueued e ? 64 + e.Messages.Sum(m => m.Body.Length + m.RawProperties.Length + 64) : 256);
        switch (obj)
        {
            case QueueCreated c:
                w.WriteShortString(c.VHost);
                w.WriteShortString(c.Name);
                w.WriteOctet(c.AutoDelete ? (byte)1 : (byte)0);
                w.WriteLongString(c.Arguments);
                w.WriteLongLong((ulong)c.NextId);
                w.WriteLongLong((ulong)c.DeliveredUpTo);
                break;
            case MessagesEnqueued m:
                w.WriteLong((uint)m.Messages.Count);
                foreach (var s in m.Messages)
                {
                    w.WriteLongLong((ulong)s.Id);
                    w.WriteShortString(s.Exchange);
                    w.WriteShortString(s.RoutingKey);
                    w.WriteLongString(s.RawProperties);
                    w.WriteLongString(s.Body);
                    w.WriteLongLong((ulong)s.ExpiresAt);
                }

                break;
            case MessagesRemoved r:
                w.WriteLong((uint)r.Ids.Length);
                foreach (var id in r.Ids)
                {
                    w.WriteLongLong((ulong)id);
                }

                break;
            case DeliveryWatermark d:
                w.WriteLongLong((ulong)d.UpTo);
                break;
            case QueueRemoved q:
                w.WriteShortString(q.Name);
                break;
            case ExchangeCreated x:
                WriteExchangeCreated(w, x);
                break;
            case ExchangeRemoved x:
                w.WriteShortString(x.Name);
                break;
            case ExchangeBound b:
                WriteBinding(w, b.Destination, b.ToExchange, b.RoutingKey, b.Arguments);
                break;
            case ExchangeUnbound u:
                WriteBinding(w, u.Destination, u.ToExchange, u.RoutingKey, u.Arguments);
                break;
            case ExchangeSnapshot s:
                WriteExchangeCreated(w, s.Definition);
                w.WriteLong((uint)s.Bindings.Count);
                foreach (var b in s.Bindings)
                {
                    WriteBinding(w, b.Destination, b.ToExchange, b.RoutingKey, b.Arguments);
                }

                break;
            case Policies.PolicyDefined p:
                Policies.PolicyCodec.Write(w, p.Policy);
                break;
            case Policies.PolicyCleared p:
                w.WriteShortString(p.Name);
                break;
            case Access.AccessDefined a:
                w.WriteLongString(Access.AccessCodec.Encode(a.Store));
                break;
            default:
                throw new ArgumentException($"{obj.GetType()} is not a journal event");
        }

        return w.ToArray();
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        var r = new AmqpReader(bytes);
        switch (manifest)
        {
            case QueueCreatedManifest:
                return new QueueCreated(r.ReadShortString(), r.ReadShortString(), r.ReadOctet() != 0, r.ReadLongString(),
                    (long)r.ReadLongLong(), (long)r.ReadLongLong());
            case MessagesEnqueuedManifest:
            case MessagesEnqueuedWithExpiryManifest:
                {
                    bool withExpiry = manifest == MessagesEnqueuedWithExpiryManifest;
                    int n = (int)r.ReadLong();
                    var list = new StoredMessage[n];
                    for (int i = 0; i < n; i++)
                    {
                        list[i] = new StoredMessage((long)r.ReadLongLong(), r.ReadShortString(), r.ReadShortString(),
                            r.ReadLongString(), r.ReadLongString(), withExpiry ? (long)r.ReadLongLong() : 0);
                    }

                    return new MessagesEnqueued(list);
                }

            case MessagesRemovedManifest:
                {
                    int n = (int)r.ReadLong();
                    var ids = new long[n];
                    for (int i = 0; i < n; i++)
                    {
                        ids[i] = (long)r.ReadLongLong();
                    }

                    return new MessagesRemoved(ids);
                }

            case DeliveryWatermarkManifest:
                return new DeliveryWatermark((long)r.ReadLongLong());
            case QueueRemovedManifest:
                return new QueueRemoved(r.ReadShortString());
            case PolicyDefinedManifest:
                return new Policies.PolicyDefined(Policies.PolicyCodec.Read(ref r));
            case PolicyClearedManifest:
                return new Policies.PolicyCleared(r.ReadShortString());
            case AccessDefinedManifest:
                return new Access.AccessDefined(Access.AccessCodec.DecodeStore(r.ReadLongString()));
            case ExchangeCreatedManifest:
                return ReadExchangeCreated(ref r);
            case ExchangeRemovedManifest:
                return new ExchangeRemoved(r.ReadShortString());
            case ExchangeBoundManifest:
                return new ExchangeBound(r.ReadShortString(), r.ReadOctet() != 0, r.ReadShortString(), r.ReadLongString());
            case ExchangeUnboundManifest:
                return new ExchangeUnbound(r.ReadShortString(), r.ReadOctet() != 0, r.ReadShortString(), r.ReadLongString());
            case ExchangeSnapshotManifest:
                {
                    var def = ReadExchangeCreated(ref r);
                    int n = (int)r.ReadLong();
                    var bindings = new ExchangeBound[n];
                    for (int i = 0; i < n; i++)
                    {
                        bindings[i] = new ExchangeBound(r.ReadShortString(), r.ReadOctet() != 0, r.ReadShortString(), r.ReadLongString());
                    }

                    return new ExchangeSnapshot(def, bindings);
                }

            default:
                throw new System.Runtime.Serialization.SerializationException($"unknown journal event manifest '{manifest}'");
        }
    }

    private static void WriteExchangeCreated(AmqpWriter w, ExchangeCreated x)
    {
        w.WriteShortString(x.VHost);
        w.WriteShortString(x.Name);
        w.WriteShortString(x.Type);
        w.WriteOctet((byte)((x.AutoDelete ? 1 : 0) | (x.Internal ? 2 : 0)));
        w.WriteLongString(x.Arguments);
    }

    private static ExchangeCreated ReadExchangeCreated(ref AmqpReader r)
    {
        string vhost = r.ReadShortString(), name = r.ReadShortString(), type = r.ReadShortString();
        byte flags = r.ReadOctet();
        return new ExchangeCreated(vhost, name, type, (flags & 1) != 0, (flags & 2) != 0, r.ReadLongString());
    }

    private static void WriteBinding(AmqpWriter w, string destination, bool toExchange, string routingKey, byte[] args)
    {
        w.WriteShortString(destination);
        w.WriteOctet(toExchange ? (byte)1 : (byte)0);
        w.WriteShortString(routingKey);
        w.WriteLongString(args);
    }
}
