using Broker.Actors.Cluster;
using Broker.Protocol;

namespace Broker.Actors.Policies;

/// <summary>A policy in the wire types both serializers (cross-node and journal) write it with.</summary>
internal static class PolicyCodec
{
    public static void Write(AmqpWriter w, Policy p)
    {
        w.WriteShortString(p.VHost);
        w.WriteShortString(p.Name);
        w.WriteLongString(System.Text.Encoding.UTF8.GetBytes(p.Pattern));
        w.WriteShortString(p.ApplyTo);
        w.WriteLong((uint)p.Priority);
        w.WriteLongString(ArgumentCodec.Encode(p.Definition));
    }

    public static Policy Read(ref AmqpReader r) =>
        new(r.ReadShortString(), r.ReadShortString(), System.Text.Encoding.UTF8.GetString(r.ReadLongString()), r.ReadShortString(),
            (int)r.ReadLong(), ArgumentCodec.Decode(r.ReadLongString()));
}
