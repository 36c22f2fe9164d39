using Broker.Actors.Topology;
using Broker.Protocol;

namespace Broker.Actors.Routing;

/// <summary>
/// This node's copy of every exchange's routing snapshot in the cluster, keyed by vhost and name.
/// Exchange actors (wherever they live) replicate versioned snapshots into every node's table;
/// channels read them on every publish without locking. Exchange-to-exchange bindings are
/// followed here, in the same local step, with a guard against cycles.
/// </summary>
public sealed class RoutingTable
{
    private readonly VersionedMap<ExchangeRoute> _routes = new();

    public bool Apply(ExchangeRoute route, TopologyVersion version) =>
        _routes.Apply(route.Definition.VHost, route.Name, route, version);

    public bool ApplyRemoval(string vhost, string name, TopologyVersion version) => _routes.Apply(vhost, name, null, version);

    public TopologyVersion VersionOf(string vhost, string name) => _routes.VersionOf(vhost, name);

    public ExchangeRoute? Find(string vhost, string name) => _routes.Find(vhost, name);

    public int Count => _routes.Count;

    public IEnumerable<ExchangeRoute> All(string vhost) => _routes.All.Where(r => r.Definition.VHost == vhost);

    public List<(string VHost, string Name, ExchangeRoute? Value, TopologyVersion Version)> Snapshot() => _routes.Snapshot();

    /// <summary>
    /// Collects the distinct queue names a message reaches from <paramref name="exchange"/>,
    /// following exchange-to-exchange bindings.
    /// </summary>
    public void Route(string vhost, ExchangeRoute exchange, string routingKey, FieldTable? headers, List<string> queues) =>
        Route(vhost, exchange, routingKey, headers, queues, new RouteScratch());

    /// <summary>
    /// As above, with buffers the caller keeps (a channel routes every publish with the same ones),
    /// so routing allocates nothing per message.
    /// </summary>
    public void Route(string vhost, ExchangeRoute exchange, string routingKey, FieldTable? headers, List<string> queues,
        RouteScratch scratch)
    {
        var matched = scratch.Matched;
        var seen = scratch.Seen;
        matched.Clear();
        seen.Clear();
        foreach (var q in queues)
        {
            seen.Add(q);
        }

        MatchOrAlternate(exchange, routingKey, headers, matched);
        if (matched.Count == 0)
        {
            return;
        }

        HashSet<string>? visited = null;
        for (int i = 0; i < matched.Count; i++)
        {
            var b = matched[i];
            if (!b.ToExchange)
            {
                if (seen.Add(b.Destination))
                {
                    queues.Add(b.Destination);
                }

                continue;
            }

            visited ??= new HashSet<string>(StringComparer.Ordinal) { exchange.Name };
            if (visited.Add(b.Destination) && Find(vhost, b.Destination) is { } next)
            {
                MatchOrAlternate(next, routingKey, headers, matched);
            }
        }
    }

    /// <summary>The policies alternate exchanges may come from (set by BrokerContext).</summary>
    public Policies.PolicyTable? Policies { get; set; }

    /// <summary>
    /// An exchange that matches nothing hands the message to its alternate exchange, as in
    /// RabbitMQ: its alternate-exchange argument, or else its policy's.
    /// </summary>
    private void MatchOrAlternate(ExchangeRoute exchange, string routingKey, FieldTable? headers, List<Binding> matched)
    {
        int before = matched.Count;
        exchange.Match(routingKey, headers, matched);
        if (matched.Count != before)
        {
            return;
        }

        if (exchange.Alternate is { } alternate)
        {
            matched.Add(alternate);
        }
        else if (Policies?.AlternateExchangeFor(exchange.Definition.VHost, exchange.Name) is { } byPolicy)
        {
            matched.Add(byPolicy);
        }
    }
}

/// <summary>Reusable buffers for <see cref="RoutingTable.Route(string, ExchangeRoute, string, FieldTable?, List{string}, RouteScratch)"/>.</summary>
public sealed class RouteScratch
{
    public List<Binding> Matched { get; } = new();

    public HashSet<string> Seen { get; } = new(StringComparer.Ordinal);
}
