using Broker.Protocol;

namespace Broker.Actors.Cluster;

/// <summary>Field tables as stored in journal events: their AMQP wire encoding.</summary>
public static class ArgumentCodec
{
    public static byte[] Encode(FieldTable table)
    {
        var w = new AmqpWriter(64);
        w.WriteTable(table);
        return w.ToArray();
    }

    public static FieldTable Decode(byte[] bytes)
    {
        var r = new AmqpReader(bytes);
        return r.ReadTable();
    }
}
