namespace Broker.Actors.Routing;

/// <summary>The exchange types this broker routes for, by their AMQP names.</summary>
public static class ExchangeType
{
    public const string Direct = "direct";
    public const string Fanout = "fanout";
    public const string Topic = "topic";
    public const string Headers = "headers";

    public static bool IsKnown(string type) => type is Direct or Fanout or Topic or Headers;
}
