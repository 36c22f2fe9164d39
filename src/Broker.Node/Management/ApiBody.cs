using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Broker.Node.Management;

/// <summary>Reads request bodies as RabbitMQ's management does: booleans and numbers may come as strings (rabbitmqadmin sends "false", "1").</summary>
public static class ApiBody
{
    public static bool Bool(JsonObject body, string key, bool fallback)
    {
        var node = body[key];
        switch (node?.GetValueKind())
        {
            case null:
                return fallback;
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            case JsonValueKind.String when node.GetValue<string>() is "true" or "false":
                return node.GetValue<string>() == "true";
            default:
                throw new ApiException(400, "bad_request", $"not_boolean: {key} = {node.ToJsonString()}");
        }
    }

    public static long Number(JsonObject body, string key, long fallback)
    {
        var node = body[key];
        switch (node?.GetValueKind())
        {
            case null:
                return fallback;
            case JsonValueKind.Number when node.AsValue().TryGetValue(out long n):
                return n;
            case JsonValueKind.String when long.TryParse(node.GetValue<string>(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long s):
                return s;
            default:
                throw new ApiException(400, "bad_request", $"not_integer: {key} = {node.ToJsonString()}");
        }
    }

    public static string? Text(JsonObject body, string key) => body[key]?.GetValueKind() switch
    {
        null => null,
        JsonValueKind.String => body[key]!.GetValue<string>(),
        _ => body[key]!.ToJsonString(),
    };

    public static string RequiredText(JsonObject body, string key) =>
        Text(body, key) ?? throw new ApiException(400, "bad_request", $"{key} is missing");

    /// <summary>An arguments object as a field table for the AMQP client (400 if it is not an object).</summary>
    public static Broker.Protocol.FieldTable Arguments(JsonObject body, string key = "arguments")
    {
        try
        {
            return Broker.Actors.Management.FieldTableJson.FromJson(body[key]);
        }
        catch (FormatException e)
        {
            throw new ApiException(400, "bad_request", e.Message);
        }
    }
}
