using System.Text.Json;

namespace Broker.Actors.Access;

/// <summary>
/// The store and its changes as JSON, for the journal and between nodes. The store's field names
/// are those of RabbitMQ's definitions (users with password_hash and hashing_algorithm, vhosts,
/// permissions, topic_permissions).
/// </summary>
public static class AccessCodec
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public static byte[] Encode(AccessStore store) => JsonSerializer.SerializeToUtf8Bytes(store, Options);

    public static AccessStore DecodeStore(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<AccessStore>(json, Options) ?? throw new JsonException("an access store cannot be null");

    public static byte[] Encode(AccessChange change) => JsonSerializer.SerializeToUtf8Bytes(change, Options);

    public static AccessChange DecodeChange(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<AccessChange>(json, Options) ?? throw new JsonException("an access change cannot be null");
}
