using Broker.Protocol.Methods;
using static Broker.Protocol.Tests.Wire;

namespace Broker.Protocol.Tests;

/// <summary>
/// Deterministic fuzzing of the decoding path: whatever the bytes, FrameDecoder must report
/// problems as ProtocolError events and never throw.
/// </summary>
public class FuzzTests
{
    private const int Iterations = 2000;

    private static readonly byte[][] Pool = BuildPool();

    private static byte[][] BuildPool()
    {
        var all = new List<byte[]>();
        foreach (var m in MethodDecoder.AllMethods())
        {
            if (!m.HasContent)
            {
                all.Add(Method(0, m));
                all.Add(Method(1, m));
            }
        }

        all.Add(Method(0, new ConnectionStartOk { ClientProperties = new FieldTable { ["a"] = new List<object?> { 1, "x", new FieldTable { ["d"] = 1.5 } } } }));
        all.Add(Method(1, new QueueDeclare { Queue = "q", Arguments = new FieldTable { ["x-max-length"] = 10, ["x-dlx"] = "d" } }));
        all.Add(Method(0, new ConnectionTuneOk { FrameMax = 4096 }));
        all.Add(Heartbeat());
        all.Add(Publish(1, Bytes(10)));
        all.Add(Publish(2, Bytes(3000), chunk: 700, props: new BasicProperties { Headers = new FieldTable { ["h"] = new byte[] { 1 } }, Timestamp = 5 }));
        all.Add(Publish(3, Array.Empty<byte>()));
        all.Add(Concat(Method(1, new BasicPublish()), Header(1, 20)));
        all.Add(Body(1, Bytes(20)));
        return all.ToArray();
    }

    private static byte[] ValidStream(Random rng)
    {
        var parts = new List<byte[]> { FrameWriter.ProtocolHeader };
        int n = rng.Next(1, 12);
        for (int i = 0; i < n; i++)
        {
            parts.Add(Pool[rng.Next(Pool.Length)]);
        }

        return Concat(parts.ToArray());
    }

    private static byte[] Mutate(Random rng, byte[] input)
    {
        var data = new List<byte>(input);
        int mutations = rng.Next(1, 6);
        for (int m = 0; m < mutations && data.Count > 0; m++)
        {
            int at = rng.Next(data.Count);
            switch (rng.Next(9))
            {
                case 0: // flip a bit
                    data[at] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1: // random byte
                    data[at] = (byte)rng.Next(256);
                    break;
                case 2: // truncate
                    data.RemoveRange(at, data.Count - at);
                    break;
                case 3: // overwrite a 32-bit value (frame sizes, table/string lengths, body sizes)
                    {
                        uint v = rng.Next(4) switch
                        {
                            0 => (uint)rng.Next(),
                            1 => uint.MaxValue - (uint)rng.Next(16),
                            2 => (uint)rng.Next(0, 300),
                            _ => 0x7FFFFFFF,
                        };
                        for (int k = 0; k < 4 && at + k < data.Count; k++)
                        {
                            data[at + k] = (byte)(v >> (24 - 8 * k));
                        }

                        break;
                    }

                case 4: // insert random bytes
                    {
                        var extra = new byte[rng.Next(1, 16)];
                        rng.NextBytes(extra);
                        data.InsertRange(at, extra);
                        break;
                    }

                case 5: // delete a few bytes
                    data.RemoveRange(at, Math.Min(rng.Next(1, 8), data.Count - at));
                    break;
                case 6: // duplicate a segment
                    {
                        int len = Math.Min(rng.Next(1, 64), data.Count - at);
                        data.InsertRange(rng.Next(data.Count), data.GetRange(at, len));
                        break;
                    }

                case 7: // set a byte to a frame type or 0xCE
                    data[at] = new byte[] { 1, 2, 3, 8, 0xCE, 0, 0xFF }[rng.Next(7)];
                    break;
                default: // clobber a field-type byte
                    data[at] = (byte)"tbBsuIilfdDSxATFVZ"[rng.Next(18)];
                    break;
            }
        }

        return data.ToArray();
    }

    private static byte[] Generate(Random rng, int iteration)
    {
        switch (iteration % 4)
        {
            case 0:
                {
                    // Valid header followed by noise.
                    var noise = new byte[rng.Next(0, 400)];
                    rng.NextBytes(noise);
                    return Concat(FrameWriter.ProtocolHeader, noise);
                }

            case 1:
                {
                    // Plausible frame headers with random payloads.
                    var parts = new List<byte[]> { FrameWriter.ProtocolHeader };
                    for (int i = rng.Next(1, 8); i > 0; i--)
                    {
                        var payload = new byte[rng.Next(0, 64)];
                        rng.NextBytes(payload);
                        if (payload.Length >= 4 && rng.Next(2) == 0)
                        {
                            var known = MethodDecoder.AllMethods()[rng.Next(66)];
                            payload[0] = (byte)(known.ClassId >> 8);
                            payload[1] = (byte)known.ClassId;
                            payload[2] = (byte)(known.MethodId >> 8);
                            payload[3] = (byte)known.MethodId;
                        }

                        parts.Add(Frame(new byte[] { 1, 2, 3, 8 }[rng.Next(4)], (ushort)rng.Next(3), payload));
                    }

                    return Mutate(rng, Concat(parts.ToArray()));
                }

            default:
                return Mutate(rng, ValidStream(rng));
        }
    }

    private static void FeedChecked(byte[] stream, Random rng, int iteration)
    {
        var d = new FrameDecoder(rng.Next(2) == 0 ? 4096 : 131072, 64 * 1024);
        var events = new List<InboundEvent>();
        int pos = 0;
        try
        {
            while (pos < stream.Length)
            {
                int n = rng.Next(3) == 0 ? stream.Length - pos : Math.Min(rng.Next(1, 50), stream.Length - pos);
                d.Feed(stream.AsSpan(pos, n), events);
                pos += n;
            }
        }
        catch (Exception e)
        {
            Assert.Fail($"iteration {iteration}: FrameDecoder threw {e.GetType().Name} at offset {pos}: {e.Message}\n"
                + $"stream: {Convert.ToHexString(stream)}\n{e}");
        }

        // Invariants on the event sequence.
        bool connectionFailed = false, stopped = false;
        for (int i = 0; i < events.Count; i++)
        {
            var e = events[i];
            if (i > 0)
            {
                Assert.IsNotType<ProtocolHeaderReceived>(e);
            }

            Assert.False(stopped, $"iteration {iteration}: event {Describe(e)} after the decoder stopped");
            switch (e)
            {
                case ProtocolHeaderReceived h:
                    stopped = !h.IsAccepted;
                    break;
                case ProtocolError p:
                    Assert.True(p.Error.ReplyCode is >= 400 and < 600, $"odd reply code {p.Error.ReplyCode}");
                    Assert.False(string.IsNullOrEmpty(p.Error.ReplyText));
                    if (connectionFailed)
                    {
                        // After a connection error only a framing loss may still be reported (and it stops the decoder).
                        Assert.Equal(ReplyCode.FrameError, p.Error.ReplyCode);
                        Assert.Equal(0, p.Channel);
                        stopped = true;
                    }

                    connectionFailed |= p.Error.IsConnectionError;
                    break;
                case Command c:
                    if (connectionFailed)
                    {
                        Assert.True(c.Method is ConnectionClose or ConnectionCloseOk,
                            $"iteration {iteration}: {c.Method.Name} after a connection error");
                        Assert.Equal(0, c.Channel);
                    }

                    if (c.Method.HasContent)
                    {
                        Assert.NotNull(c.Header);
                        Assert.Equal(c.Header!.BodySize, (ulong)c.Body.Length);
                    }
                    else
                    {
                        Assert.Null(c.Header);
                    }

                    break;
                case HeartbeatReceived:
                    Assert.False(connectionFailed);
                    break;
                default:
                    Assert.Fail($"unexpected event {e.GetType().Name}");
                    break;
            }
        }
    }

    [Fact]
    public void FrameDecoderNeverThrowsOnMutatedStreams()
    {
        var rng = new Random(20240601);
        int errors = 0, commands = 0;
        for (int i = 0; i < Iterations; i++)
        {
            var stream = Generate(rng, i);
            FeedChecked(stream, rng, i);

            // Count outcomes once more (cheaply, in one chunk) to make sure the fuzzer exercises both paths.
            var events = new List<InboundEvent>();
            new FrameDecoder(131072, 64 * 1024).Feed(stream, events);
            errors += events.Count(e => e is ProtocolError);
            commands += events.Count(e => e is Command);
        }

        Assert.True(errors > Iterations / 2, $"only {errors} protocol errors: the mutations are too tame");
        Assert.True(commands > Iterations / 2, $"only {commands} commands: the mutations are too destructive");
    }

    [Fact]
    public void DecodersOnlyThrowAmqpExceptionOnRandomPayloads()
    {
        var rng = new Random(7);
        var methods = MethodDecoder.AllMethods();
        for (int i = 0; i < Iterations; i++)
        {
            var m = methods[rng.Next(methods.Count)];
            var payload = Mutate(rng, Wire.Concat(MethodPayload(m), i % 2 == 0 ? MethodPayload(m) : Array.Empty<byte>()));
            try
            {
                MethodDecoder.Decode(payload);
            }
            catch (AmqpException)
            {
            }

            var header = Mutate(rng, HeaderPayload(60, (ulong)rng.Next(), new BasicProperties
            {
                ContentType = "a",
                Headers = new FieldTable { ["x"] = new List<object?> { 1, new FieldTable { ["y"] = "z" } } },
                Timestamp = 1,
                AppId = "app",
            }));
            try
            {
                ContentHeader.Decode(header);
            }
            catch (AmqpException)
            {
            }
        }
    }
}
