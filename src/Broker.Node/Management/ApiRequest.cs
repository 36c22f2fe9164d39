using System.Text.Json;
using System.Text.Json.Nodes;
using Broker.Actors.Access;
using Microsoft.AspNetCore.Http;

namespace Broker.Node.Management;

/// <summary>One API call: its path values, its authenticated user, the node, and the ways to answer.</summary>
public sealed class ApiRequest(HttpContext http, IReadOnlyDictionary<string, string> values, ApiUser user, ManagementNode node)
{
    private static readonly JsonSerializerOptions Indented = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public HttpContext Http { get; } = http;
    public ApiUser User { get; } = user;
    public ManagementNode Node { get; } = node;

    /// <summary>The node's current replica of users, vhosts and permissions.</summary>
    public AccessSnapshot Access => Node.Broker.Context.Access.Current;

    public string this[string name] => values[name];

    public string? Query(string name) => Http.Request.Query.TryGetValue(name, out var v) ? v.ToString() : null;

    /// <summary>The request body as a JSON object (400 bad_request when it is not one; empty body: {}).</summary>
    public async Task<JsonObject> BodyAsync(string notJson = "not_json")
    {
        using var reader = new StreamReader(Http.Request.Body);
        string text = await reader.ReadToEndAsync(Http.RequestAborted);
        if (string.IsNullOrWhiteSpace(text))
        {
            return new JsonObject();
        }

        try
        {
            return JsonNode.Parse(text) as JsonObject ?? throw new ApiException(400, "bad_request", notJson);
        }
        catch (JsonException e)
        {
            throw new ApiException(400, "bad_request", $"{notJson}: {e.Message}");
        }
    }

    public Task Json(JsonNode? body, int status = 200)
    {
        Http.Response.StatusCode = status;
        Http.Response.ContentType = "application/json";
        return Http.Response.WriteAsync(body?.ToJsonString(Indented) ?? "null", Http.RequestAborted);
    }

    /// <summary>201 for something created, 204 for something that already was (RabbitMQ's PUT answers).</summary>
    public Task Created(bool created)
    {
        Http.Response.StatusCode = created ? 201 : 204;
        return Task.CompletedTask;
    }

    public Task NoContent()
    {
        Http.Response.StatusCode = 204;
        return Task.CompletedTask;
    }

    /// <summary>A list, as RabbitMQ answers one: sorted (?sort, ?sort_reverse), paged (?page, ?page_size), cut to ?columns.</summary>
    public Task List(IEnumerable<JsonObject> items) => Json(ApiListing.Shape(items.ToList(), this));
}
