using Broker.Protocol;
using Broker.Protocol.Methods;

namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>
/// Valid AMQP sessions as frames, built with the broker's codec: the handshake, and random runs of
/// the things a client does on open channels (declare an exclusive queue with arguments, bind it,
/// publish with properties and split bodies, consume, get, qos, confirms, purge, heartbeats). A
/// session sent unchanged must be answered without any error; mutations start from one.
/// </summary>
public static class SessionBuilder
{
    /// <summary>Field values of every AMQP type, for argument tables and message headers.</summary>
    private static readonly Func<Random, object?>[] Values =
    {
        r => r.Next(2) == 0,
        r => (sbyte)r.Next(-128, 128),
        r => (byte)r.Next(256),
        r => (short)r.Next(short.MinValue, short.MaxValue),
        r => (ushort)r.Next(ushort.MaxValue),
        r => r.Next(),
        r => (uint)r.Next(),
        r => r.NextInt64(),
        r => (float)r.NextDouble(),
        r => r.NextDouble(),
        r => new AmqpDecimal((byte)r.Next(10), r.Next()),
        r => new string('s', r.Next(40)),
        r => new ByteArrayValue(new byte[r.Next(20)]),
        r => new AmqpTimestamp((ulong)r.NextInt64(0, 1L << 40)),
        r => null,
        r => new List<object?> { r.Next(), "a", null },
        r => new FieldTable { ["n"] = r.Next(), ["t"] = new FieldTable { ["d"] = 1.5 } },
    };

    /// <summary>channel_max sent in tune-ok: the broker's (RabbitMQ refuses 0, "no limit", when it has one).</summary>
    public const ushort ChannelMax = 2047;

    public static ConnectionStartOk StartOk(FieldTable? extraProperties = null)
    {
        var properties = new FieldTable
        {
            ["product"] = "broker-fuzzer",
            ["capabilities"] = new FieldTable { ["authentication_failure_close"] = true, ["consumer_cancel_notify"] = true },
        };
        foreach (var (k, v) in extraProperties ?? new FieldTable())
        {
            properties[k] = v;
        }

        return new ConnectionStartOk { ClientProperties = properties, Mechanism = "PLAIN", Response = "\0guest\0guest"u8.ToArray() };
    }

    /// <summary>The whole handshake as frames after the protocol header, up to an open channel 1.</summary>
    public static List<FuzzFrame> Handshake(uint frameMax) => new()
    {
        FuzzFrame.Method(0, StartOk()),
        FuzzFrame.Method(0, new ConnectionTuneOk { ChannelMax = ChannelMax, FrameMax = frameMax, Heartbeat = FuzzConnection.Heartbeat }),
        FuzzFrame.Method(0, new ConnectionOpen { VirtualHost = "/" }),
        FuzzFrame.Method(1, new ChannelOpen()),
    };

    public static FuzzFrame Close() => FuzzFrame.Method(0, new ConnectionClose { ReplyCode = 200, ReplyText = "fuzz done" });

    /// <summary>A table of random entries of random types, nested now and then.</summary>
    public static FieldTable RandomTable(Random rng, int entries)
    {
        var table = new FieldTable();
        for (int i = 0; i < entries; i++)
        {
            // Not x- names: those are queue features with types RabbitMQ checks (406 on a mismatch).
            table[$"fz-{i}"] = Values[rng.Next(Values.Length)](rng);
        }

        return table;
    }

    public static BasicProperties RandomProperties(Random rng) => new()
    {
        ContentType = rng.Next(2) == 0 ? "application/octet-stream" : null,
        Headers = rng.Next(2) == 0 ? RandomTable(rng, rng.Next(6)) : null,
        DeliveryMode = (byte)rng.Next(1, 3),
        Priority = rng.Next(3) == 0 ? (byte)rng.Next(10) : null,
        CorrelationId = rng.Next(3) == 0 ? "c" + rng.Next() : null,
        MessageId = rng.Next(3) == 0 ? "m" + rng.Next() : null,
        Timestamp = rng.Next(3) == 0 ? (ulong)rng.Next() : null,
        AppId = rng.Next(3) == 0 ? "fuzz" : null,
    };

    /// <summary>basic.publish, its header and its body cut into frames of at most frame_max (or smaller pieces now and then).</summary>
    public static List<FuzzFrame> Publish(Random rng, ushort channel, string routingKey, int bodySize, uint frameMax, bool fullFrames = false)
    {
        var frames = new List<FuzzFrame>
        {
            FuzzFrame.Method(channel, new BasicPublish { Exchange = rng.Next(4) == 0 ? "amq.direct" : "", RoutingKey = routingKey, Mandatory = rng.Next(3) == 0 }),
            FuzzFrame.Header(channel, (ulong)bodySize, RandomProperties(rng)),
        };
        var body = new byte[bodySize];
        rng.NextBytes(body);
        int maxPayload = (int)frameMax - FrameWriter.FrameOverhead;
        // Sometimes smaller pieces than frame_max allows: a body of many frames is valid too.
        int piece = !fullFrames && rng.Next(3) == 0 ? rng.Next(1, maxPayload + 1) : maxPayload;
        for (int at = 0; at < bodySize; at += piece)
        {
            frames.Add(FuzzFrame.Body(channel, body[at..Math.Min(bodySize, at + piece)]));
        }

        return frames;
    }

    /// <summary>
    /// Random valid operations on a connection whose channel 1 is open, on at most
    /// <paramref name="maxChannels"/> channels, ending with connection.close if asked. Queues are
    /// exclusive, so the broker deletes them with the connection.
    /// </summary>
    public static List<FuzzFrame> Operations(Random rng, uint frameMax, int count, int maxChannels = 3, bool close = true)
    {
        var frames = new List<FuzzFrame>();
        // Channels run side by side (in RabbitMQ too): a queue is only used on the channel that
        // declared it, where the declare is sure to come first.
        var queues = new Dictionary<ushort, List<string>> { [1] = new() };
        for (int i = 0; i < count; i++)
        {
            ushort ch = queues.Keys.ElementAt(rng.Next(queues.Count));
            var mine = queues[ch];
            switch (rng.Next(11))
            {
                case 0 when queues.Count < maxChannels:
                    ushort next = (ushort)(queues.Keys.Max() + 1);
                    queues[next] = new List<string>();
                    frames.Add(FuzzFrame.Method(next, new ChannelOpen()));
                    break;
                case 1:
                    frames.Add(FuzzFrame.Method(ch, new ConfirmSelect()));
                    break;
                case 2:
                    string q = $"fuzz-{rng.NextInt64():x}";
                    mine.Add(q);
                    frames.Add(FuzzFrame.Method(ch, new QueueDeclare { Queue = q, Exclusive = true, Arguments = RandomTable(rng, rng.Next(4)) }));
                    break;
                case 3 when mine.Count > 0:
                    frames.Add(FuzzFrame.Method(ch, new QueueBind { Queue = Pick(rng, mine), Exchange = "amq.direct", RoutingKey = Pick(rng, mine) }));
                    break;
                case 4 when mine.Count > 0:
                    frames.Add(FuzzFrame.Method(ch, new BasicConsume { Queue = Pick(rng, mine), ConsumerTag = $"fz{i}", NoAck = true }));
                    break;
                case 5 when mine.Count > 0:
                    frames.Add(FuzzFrame.Method(ch, new BasicGet { Queue = Pick(rng, mine), NoAck = true }));
                    break;
                case 6:
                    frames.Add(FuzzFrame.Method(ch, new BasicQos { PrefetchCount = (ushort)rng.Next(100) }));
                    break;
                case 7 when mine.Count > 0:
                    frames.Add(FuzzFrame.Method(ch, new QueuePurge { Queue = Pick(rng, mine) }));
                    break;
                case 8:
                    frames.Add(FuzzFrame.Heartbeat());
                    break;
                default:
                    string key = mine.Count > 0 && rng.Next(3) > 0 ? Pick(rng, mine) : "nowhere";
                    int size = rng.Next(4) switch
                    {
                        0 => 0,
                        1 => rng.Next(1, 100),
                        2 => rng.Next(100, 5000),
                        _ => rng.Next(5000, 3 * (int)frameMax),
                    };
                    frames.AddRange(Publish(rng, ch, key, size, frameMax));
                    break;
            }
        }

        if (close)
        {
            frames.Add(Close());
        }

        return frames;
    }

    private static string Pick(Random rng, List<string> items) => items[rng.Next(items.Count)];
}
