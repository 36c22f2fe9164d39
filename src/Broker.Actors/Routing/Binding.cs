using Broker.Protocol;

namespace Broker.Actors.Routing;

/// <summary>A binding from a source exchange to a queue or to another exchange.</summary>
public sealed record Binding(string Source, string Destination, bool ToExchange, string RoutingKey, FieldTable Arguments)
{
    /// <summary>Bindings are the same when all parts match, arguments compared by value.</summary>
    public bool SameAs(Binding other) =>
        Source == other.Source && Destination == other.Destination && ToExchange == other.ToExchange &&
        RoutingKey == other.RoutingKey && FieldValues.TablesEqual(Arguments, other.Arguments);
}
