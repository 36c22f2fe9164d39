namespace Broker.Protocol;

/// <summary>
/// An AMQP field table: string keys in wire order. Values are the CLR types listed on
/// <see cref="AmqpReader.ReadFieldValue"/>.
/// </summary>
public sealed class FieldTable : Dictionary<string, object?>
{
    public FieldTable() : base(StringComparer.Ordinal)
    {
    }

    public FieldTable(IDictionary<string, object?> source) : base(source, StringComparer.Ordinal)
    {
    }

    /// <summary>Looks a key up as a string, accepting both longstr (byte[]) and string values.</summary>
    public string? GetString(string key) => TryGetValue(key, out var v) ? FieldValues.AsString(v) : null;
}

/// <summary>Field value 'D': a scale (decimal places) and an unscaled signed 32-bit value.</summary>
public readonly record struct AmqpDecimal(byte Scale, int Value);

/// <summary>Field value 'T': seconds since the Unix epoch.</summary>
public readonly record struct AmqpTimestamp(ulong UnixSeconds);

/// <summary>Field value 'x': a byte array, kept apart from longstr ('S', read as byte[]).</summary>
public sealed record ByteArrayValue(byte[] Bytes)
{
    public bool Equals(ByteArrayValue? other) => other is not null && Bytes.AsSpan().SequenceEqual(other.Bytes);

    public override int GetHashCode() => Bytes.Length;
}

/// <summary>Helpers over field values: string views and the deep equality argument checks need.</summary>
public static class FieldValues
{
    public static string? AsString(object? value) => value switch
    {
        string s => s,
        byte[] b => System.Text.Encoding.UTF8.GetString(b),
        _ => null,
    };

    /// <summary>Integral values of any width as a long; null otherwise.</summary>
    public static long? AsLong(object? value) => value switch
    {
        sbyte v => v,
        byte v => v,
        short v => v,
        ushort v => v,
        int v => v,
        uint v => v,
        long v => v,
        ulong v when v <= long.MaxValue => (long)v,
        _ => null,
    };

    /// <summary>Compares two values as RabbitMQ compares arguments: by type and content.</summary>
    public static bool DeepEquals(object? a, object? b)
    {
        switch (a)
        {
            case null:
                return b is null;
            case byte[] ba:
                return (b is byte[] bb && ba.AsSpan().SequenceEqual(bb)) || (b is string sb && AsString(ba) == sb);
            case string sa:
                return (b is string s2 && s2 == sa) || (b is byte[] b2 && AsString(b2) == sa);
            case FieldTable ta:
                return b is FieldTable tb && TablesEqual(ta, tb);
            case List<object?> la:
                if (b is not List<object?> lb || la.Count != lb.Count)
                {
                    return false;
                }

                for (int i = 0; i < la.Count; i++)
                {
                    if (!DeepEquals(la[i], lb[i]))
                    {
                        return false;
                    }
                }

                return true;
            default:
                if (AsLong(a) is { } la2 && AsLong(b) is { } lb2)
                {
                    return la2 == lb2;
                }

                return a.Equals(b);
        }
    }

    public static bool TablesEqual(FieldTable? a, FieldTable? b)
    {
        int ca = a?.Count ?? 0, cb = b?.Count ?? 0;
        if (ca != cb)
        {
            return false;
        }

        if (ca == 0)
        {
            return true;
        }

        foreach (var (k, v) in a!)
        {
            if (!b!.TryGetValue(k, out var bv) || !DeepEquals(v, bv))
            {
                return false;
            }
        }

        return true;
    }
}
