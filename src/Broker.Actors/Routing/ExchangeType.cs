namespace Broker.Actors.Routing;

/// <summary>The exchange types this broker routes for, by their AMQP names.</summary>
public static class ExchangeType
{
    public const string Direct = "direct";
    public const string Fanout = "fanout";
    public const string Topic = "topic";
    public const string Headers = "headers";

    /// <summary>
    /// The delayed-message plugin's type: routes as its x-delayed-type says, and holds a message
    /// with an x-delay header (ms) back that long first (see DelayedMessages).
    /// </summary>
    public const string DelayedMessage = "x-delayed-message";

    public static bool IsKnown(string type) => IsRouting(type) || type == DelayedMessage;

    /// <summary>The types that route by themselves (what x-delayed-type may name).</summary>
    public static bool IsRouting(string type) => type is Direct or Fanout or Topic or Headers;
}
