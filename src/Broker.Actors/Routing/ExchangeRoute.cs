using Broker.Protocol;

namespace Broker.Actors.Routing;

/// <summary>
/// An immutable snapshot of one exchange: its definition and its bindings indexed for its type.
/// The exchange actor publishes a new snapshot whenever its bindings change; channels route
/// against whatever snapshot is current, without asking the exchange actor.
/// </summary>
public sealed class ExchangeRoute
{
    private static readonly Binding[] NoBindings = Array.Empty<Binding>();

    private readonly Dictionary<string, Binding[]>? _direct;
    private readonly TopicTrie? _topic;

    public ExchangeRoute(ExchangeDefinition definition, IReadOnlyList<Binding> bindings)
    {
        Definition = definition;
        Bindings = bindings;
        if (definition.AlternateExchange is { } ae)
        {
            Alternate = new Binding(definition.Name, ae, ToExchange: true, string.Empty, new FieldTable());
        }

        switch (definition.RoutingType)
        {
            case ExchangeType.Direct:
                _direct = bindings.GroupBy(b => b.RoutingKey, StringComparer.Ordinal)
                    .ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
                break;
            case ExchangeType.Topic:
                _topic = new TopicTrie(bindings);
                break;
        }
    }

    public ExchangeDefinition Definition { get; }

    public IReadOnlyList<Binding> Bindings { get; }

    public string Name => Definition.Name;

    /// <summary>A binding to the alternate exchange, followed when nothing else matches (null without one).</summary>
    public Binding? Alternate { get; }

    /// <summary>Adds the bindings that match a message with this routing key and headers.</summary>
    public void Match(string routingKey, FieldTable? headers, List<Binding> result)
    {
        switch (Definition.RoutingType)
        {
            case ExchangeType.Direct:
                result.AddRange(_direct!.TryGetValue(routingKey, out var hits) ? hits : NoBindings);
                break;
            case ExchangeType.Fanout:
                result.AddRange(Bindings);
                break;
            case ExchangeType.Topic:
                _topic!.Match(routingKey, result);
                break;
            case ExchangeType.Headers:
                foreach (var b in Bindings)
                {
                    if (HeadersMatcher.Matches(b.Arguments, headers))
                    {
                        result.Add(b);
                    }
                }

                break;
        }
    }
}
