namespace Broker.Node.Management;

/// <summary>An API error as RabbitMQ's management writes it: an HTTP status and {"error": ..., "reason": ...}.</summary>
public sealed class ApiException(int status, string error, string reason) : Exception(reason)
{
    public int Status { get; } = status;
    public string Error { get; } = error;

    public static ApiException NotFound() => new(404, "Object Not Found", "Not Found");

    public static ApiException BadRequest(string reason) => new(400, "bad_request", reason);

    /// <summary>Authenticated, but the user's tags or permissions do not allow it (RabbitMQ answers 401, not 403).</summary>
    public static ApiException NotAuthorised(string reason) => new(401, "not_authorised", reason);
}
