using System.Security.Cryptography;

namespace Broker.Actors;

/// <summary>Random name parts for server-named queues and generated consumer tags, as RabbitMQ forms them.</summary>
public static class Names
{
    public static string Random() =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
