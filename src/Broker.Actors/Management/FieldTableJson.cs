using System.Text.Json;
using System.Text.Json.Nodes;
using Broker.Protocol;

namespace Broker.Actors.Management;

/// <summary>
/// AMQP field tables as the management API writes and reads them, as RabbitMQ does: long strings
/// as JSON strings, integers and floats as numbers, tables as objects, arrays as arrays. JSON in
/// becomes the types RabbitMQ's management gives it: whole numbers a signed 64-bit 'l', other
/// numbers a double, strings a long string.
/// </summary>
public static class FieldTableJson
{
    public static JsonObject ToJson(IReadOnlyDictionary<string, object?>? table)
    {
        var result = new JsonObject();
        if (table is null)
        {
            return result;
        }

        foreach (var (key, value) in table)
        {
            result[key] = ValueToJson(value);
        }

        return result;
    }

    /// <summary>
    /// Any value a client can send becomes JSON without throwing (a client's odd argument must not
    /// break the statistics of its whole node): numbers JSON cannot hold are written as strings.
    /// </summary>
    public static JsonNode? ValueToJson(object? value) => value switch
    {
        null => null,
        bool b => JsonValue.Create(b),
        string s => JsonValue.Create(s),
        byte[] bytes => JsonValue.Create(System.Text.Encoding.UTF8.GetString(bytes)),
        ByteArrayValue x => JsonValue.Create(Convert.ToBase64String(x.Bytes)),
        float f => Finite(f),
        double d => Finite(d),
        AmqpDecimal d => d.Scale <= 28 ? JsonValue.Create(new decimal(Math.Abs(d.Value), 0, 0, d.Value < 0, d.Scale)) : JsonValue.Create($"{d.Value}e-{d.Scale}"),
        AmqpTimestamp t => JsonValue.Create(t.UnixSeconds),
        FieldTable t => ToJson(t),
        IReadOnlyDictionary<string, object?> t => ToJson(t),
        List<object?> list => new JsonArray(list.Select(ValueToJson).ToArray()),
        _ when FieldValues.AsLong(value) is { } n => JsonValue.Create(n),
        ulong u => JsonValue.Create(u),
        _ => JsonValue.Create(value.ToString()),
    };

    private static JsonNode Finite(double d) =>
        double.IsFinite(d) ? JsonValue.Create(d) : JsonValue.Create(d.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>A JSON object of arguments or headers as a field table; null or absent is empty.</summary>
    /// <exception cref="FormatException">The value is not an object.</exception>
    public static FieldTable FromJson(JsonNode? node)
    {
        var table = new FieldTable();
        if (node is null)
        {
            return table;
        }

        if (node is not JsonObject obj)
        {
            throw new FormatException("arguments must be a JSON object");
        }

        foreach (var (key, value) in obj)
        {
            table[key] = ValueFromJson(value);
        }

        return table;
    }

    public static object? ValueFromJson(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return null;
            case JsonObject:
                return FromJson(node);
            case JsonArray array:
                return array.Select(ValueFromJson).ToList();
        }

        var value = node.AsValue();
        return node.GetValueKind() switch
        {
            JsonValueKind.String => System.Text.Encoding.UTF8.GetBytes(value.GetValue<string>()),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number when value.TryGetValue(out long n) => n,
            JsonValueKind.Number => value.GetValue<double>(),
            _ => null,
        };
    }
}
