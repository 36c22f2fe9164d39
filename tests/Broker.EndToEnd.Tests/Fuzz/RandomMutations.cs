using Broker.Protocol;
using Broker.Protocol.Methods;

namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>
/// Random damage to a valid session: one to three mutations of its frames (drop, duplicate, swap,
/// another channel or type, a lying size or end octet, bytes of the payload changed where lengths,
/// field-type tags and ids live, another method's ids) and of its bytes (flips, inserted junk, a cut
/// followed by a disconnect). Nothing precise can be said about the answer, only that the
/// connection must end in an orderly way within the bound.
/// </summary>
public static class RandomMutations
{
    private static readonly IReadOnlyList<Method> Methods = MethodDecoder.AllMethods();

    public static FuzzCase Make(Random rng)
    {
        uint fm = FaultKit.FrameMax(rng);
        bool whole = rng.Next(5) == 0; // the handshake too, sent without waiting for answers
        var frames = whole ? SessionBuilder.Handshake(fm) : new List<FuzzFrame>();
        frames.AddRange(SessionBuilder.Operations(rng, fm, rng.Next(1, 12)));
        var done = new List<string>();
        int count = rng.Next(1, 4);
        for (int i = 0; i < count; i++)
        {
            done.Add(MutateFrames(rng, frames));
        }

        byte[] bytes = FuzzFrame.Serialize(frames);
        if (whole)
        {
            bytes = FrameWriter.ProtocolHeader.Concat(bytes).ToArray();
        }

        bool hangUp = false;
        if (bytes.Length > 0 && rng.Next(3) == 0)
        {
            (bytes, hangUp, string what) = MutateBytes(rng, bytes);
            done.Add(what);
        }

        return new FuzzCase(hangUp ? "random-then-hang-up" : "random", string.Join("; ", done),
            whole ? Prefix.None : Prefix.ChannelOpen, bytes, hangUp ? Expectation.HangUp() : Expectation.AnyOrderlyEnd(), fm, hangUp);
    }

    private static string MutateFrames(Random rng, List<FuzzFrame> frames)
    {
        if (frames.Count == 0)
        {
            return "no frame left";
        }

        int i = rng.Next(frames.Count);
        var f = frames[i];
        switch (rng.Next(12))
        {
            case 0:
                frames.RemoveAt(i);
                return $"dropped frame {i} ({f})";
            case 1:
                frames.Insert(i, f.Clone());
                return $"duplicated frame {i} ({f})";
            case 2 when i + 1 < frames.Count:
                (frames[i], frames[i + 1]) = (frames[i + 1], frames[i]);
                return $"swapped frames {i} and {i + 1}";
            case 3:
                f.Channel = (ushort)(rng.Next(3) == 0 ? rng.Next(65536) : rng.Next(4));
                return $"frame {i} moved to channel {f.Channel}";
            case 4:
                f.Type = (byte)(rng.Next(3) == 0 ? rng.Next(256) : new[] { 1, 2, 3, 8 }[rng.Next(4)]);
                return $"frame {i} now of type {f.Type}";
            case 5:
                f.DeclaredSize = LengthLike(rng, f.Payload.Length);
                return $"frame {i} ({f}) declares size {f.DeclaredSize}";
            case 6:
                f.End = (byte)rng.Next(256);
                return $"frame {i} ends with 0x{f.End:x2}";
            case 7 when f.Payload.Length >= 4:
                {
                    int at = rng.Next(f.Payload.Length - 3);
                    System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(f.Payload.AsSpan(at), LengthLike(rng, f.Payload.Length - at));
                    return $"frame {i} ({f}): a length-like value at {at}";
                }

            case 8 when f.Payload.Length > 0:
                {
                    int at = rng.Next(f.Payload.Length);
                    f.Payload[at] = rng.Next(2) == 0 ? (byte)"tbBsuIilfdDSxATFVZ\0"[rng.Next(19)] : (byte)rng.Next(256);
                    return $"frame {i} ({f}): byte {at} now 0x{f.Payload[at]:x2}";
                }

            case 9 when f.Type == FrameConstants.Method && f.Payload.Length >= 4:
                {
                    var other = Methods[rng.Next(Methods.Count)];
                    f.Payload[0] = (byte)(other.ClassId >> 8);
                    f.Payload[1] = (byte)other.ClassId;
                    f.Payload[2] = (byte)(other.MethodId >> 8);
                    f.Payload[3] = (byte)other.MethodId;
                    return $"frame {i}: arguments now read as {other.Name}";
                }

            case 10 when f.Payload.Length > 0:
                {
                    int keep = rng.Next(f.Payload.Length);
                    f.Payload = f.Payload[..keep];
                    return $"frame {i} ({f}) cut to {keep} bytes";
                }

            default:
                {
                    var junk = new byte[rng.Next(1, 16)];
                    rng.NextBytes(junk);
                    f.Payload = f.Payload.Concat(junk).ToArray();
                    return $"frame {i} ({f}): {junk.Length} bytes more";
                }
        }
    }

    private static (byte[] Bytes, bool HangUp, string What) MutateBytes(Random rng, byte[] bytes)
    {
        switch (rng.Next(3))
        {
            case 0:
                {
                    int flips = rng.Next(1, 5);
                    for (int k = 0; k < flips; k++)
                    {
                        bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8));
                    }

                    return (bytes, false, $"{flips} bits flipped");
                }

            case 1:
                {
                    int at = rng.Next(bytes.Length + 1);
                    var junk = new byte[rng.Next(1, 32)];
                    rng.NextBytes(junk);
                    return (bytes[..at].Concat(junk).Concat(bytes[at..]).ToArray(), false, $"{junk.Length} junk bytes at {at}");
                }

            default:
                {
                    int cut = rng.Next(bytes.Length);
                    return (bytes[..cut], true, $"cut at byte {cut} of {bytes.Length}");
                }
        }
    }

    /// <summary>What a length field might wrongly hold: zero, a little off, the maximum, anything.</summary>
    private static uint LengthLike(Random rng, int actual) => rng.Next(5) switch
    {
        0 => 0,
        1 => (uint)Math.Max(0, actual + rng.Next(-3, 4)),
        2 => uint.MaxValue - (uint)rng.Next(8),
        3 => (uint)rng.Next(1 << 17),
        _ => (uint)rng.Next(),
    };
}
