using System.Security.Cryptography;

namespace Broker.Actors;

/// <summary>Random name parts for server-named queues and generated consumer tags, as RabbitMQ forms them.</summary>
public static class Names
{
    public static string Random() => System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));
}
