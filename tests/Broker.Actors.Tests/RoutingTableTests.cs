using Broker.Actors.Routing;
using Broker.Actors.Topology;
using Broker.Protocol;

namespace Broker.Actors.Tests;

public class RoutingTableTests
{
    private const string VHost = "/";
    private readonly RoutingTable _table = new();
    private long _version;

    private static Binding ToQueue(string source, string queue, string key = "", FieldTable? args = null) =>
        new(source, queue, false, key, args ?? new FieldTable());

    private static Binding ToExchange(string source, string destination, string key = "", FieldTable? args = null) =>
        new(source, destination, true, key, args ?? new FieldTable());

    private ExchangeRoute Add(string name, string type, params Binding[] bindings)
    {
        var route = new ExchangeRoute(
            new ExchangeDefinition(VHost, name, type, false, false, false, new FieldTable()), bindings);
        _table.Apply(route, new TopologyVersion(1, ++_version));
        return route;
    }

    private List<string> Route(string exchange, string key, FieldTable? headers = null)
    {
        var queues = new List<string>();
        _table.Route(VHost, _table.Find(VHost, exchange)!, key, headers, queues);
        return queues;
    }

    private static List<string> Sorted(IEnumerable<string> names) => names.OrderBy(n => n, StringComparer.Ordinal).ToList();

    [Fact]
    public void Direct_routes_by_exact_key()
    {
        Add("d", ExchangeType.Direct, ToQueue("d", "q1", "k1"), ToQueue("d", "q2", "k2"), ToQueue("d", "q3", "k1"));
        Assert.Equal(new[] { "q1", "q3" }, Sorted(Route("d", "k1")));
        Assert.Equal(new[] { "q2" }, Route("d", "k2"));
        Assert.Empty(Route("d", "k3"));
        Assert.Empty(Route("d", "K1"));
        Assert.Empty(Route("d", ""));
    }

    [Fact]
    public void Direct_with_an_empty_key_binding()
    {
        Add("d", ExchangeType.Direct, ToQueue("d", "q1", ""));
        Assert.Equal(new[] { "q1" }, Route("d", ""));
        Assert.Empty(Route("d", "x"));
    }

    [Fact]
    public void Fanout_ignores_the_key()
    {
        Add("f", ExchangeType.Fanout, ToQueue("f", "q1", "ignored"), ToQueue("f", "q2"));
        Assert.Equal(new[] { "q1", "q2" }, Sorted(Route("f", "anything")));
        Assert.Equal(new[] { "q1", "q2" }, Sorted(Route("f", "")));
    }

    [Fact]
    public void Exchange_without_bindings_routes_nowhere()
    {
        Add("f", ExchangeType.Fanout);
        Add("d", ExchangeType.Direct);
        Add("t", ExchangeType.Topic);
        Add("h", ExchangeType.Headers);
        Assert.Empty(Route("f", "k"));
        Assert.Empty(Route("d", "k"));
        Assert.Empty(Route("t", "k"));
        Assert.Empty(Route("h", "k", new FieldTable { ["a"] = 1 }));
    }

    [Fact]
    public void Topic_routes_by_pattern()
    {
        Add("t", ExchangeType.Topic,
            ToQueue("t", "all", "#"),
            ToQueue("t", "stock", "stock.*"),
            ToQueue("t", "nyse", "stock.nyse.#"),
            ToQueue("t", "ibm", "*.*.ibm"));
        Assert.Equal(new[] { "all", "stock" }, Sorted(Route("t", "stock.nasdaq")));
        Assert.Equal(new[] { "all", "ibm", "nyse" }, Sorted(Route("t", "stock.nyse.ibm")));
        Assert.Equal(new[] { "all", "nyse", "stock" }, Sorted(Route("t", "stock.nyse")));
        Assert.Equal(new[] { "all", "nyse" }, Sorted(Route("t", "stock.nyse.x.y")));
        Assert.Equal(new[] { "all" }, Route("t", ""));
    }

    [Fact]
    public void Headers_routes_by_header_match()
    {
        Add("h", ExchangeType.Headers,
            ToQueue("h", "pdf", args: new FieldTable { ["x-match"] = "all", ["format"] = "pdf", ["type"] = "report" }),
            ToQueue("h", "any", args: new FieldTable { ["x-match"] = "any", ["format"] = "zip", ["type"] = "report" }));
        var headers = new FieldTable { ["format"] = "pdf", ["type"] = "report" };
        Assert.Equal(new[] { "any", "pdf" }, Sorted(Route("h", "key-is-ignored", headers)));
        Assert.Equal(new[] { "any" }, Route("h", "", new FieldTable { ["format"] = "zip" }));
        Assert.Empty(Route("h", "", new FieldTable { ["format"] = "doc" }));
        Assert.Empty(Route("h", "", null));
    }

    [Fact]
    public void Same_queue_reached_by_several_bindings_is_listed_once()
    {
        Add("t", ExchangeType.Topic,
            ToQueue("t", "q", "a.*"),
            ToQueue("t", "q", "a.#"),
            ToQueue("t", "q", "#"),
            ToQueue("t", "q2", "#.#")); // the trie can report this one several times
        Assert.Equal(new[] { "q", "q2" }, Sorted(Route("t", "a.b")));

        Add("d", ExchangeType.Direct,
            ToQueue("d", "q", "k", new FieldTable { ["v"] = 1 }),
            ToQueue("d", "q", "k", new FieldTable { ["v"] = 2 }));
        Assert.Equal(new[] { "q" }, Route("d", "k"));
    }

    [Fact]
    public void Exchange_to_exchange_chain_is_followed_with_the_same_key()
    {
        Add("e1", ExchangeType.Topic, ToExchange("e1", "e2", "a.*"), ToQueue("e1", "q-e1", "#"));
        Add("e2", ExchangeType.Direct, ToExchange("e2", "e3", "a.b"), ToQueue("e2", "q-e2", "a.c"));
        Add("e3", ExchangeType.Fanout, ToQueue("e3", "q-e3"));

        Assert.Equal(new[] { "q-e1", "q-e3" }, Sorted(Route("e1", "a.b")));
        Assert.Equal(new[] { "q-e1", "q-e2" }, Sorted(Route("e1", "a.c")));
        Assert.Equal(new[] { "q-e1" }, Route("e1", "x"));
    }

    [Fact]
    public void Exchange_binding_to_a_missing_exchange_is_skipped()
    {
        Add("e1", ExchangeType.Fanout, ToExchange("e1", "gone"), ToQueue("e1", "q"));
        Assert.Equal(new[] { "q" }, Route("e1", "k"));
    }

    [Fact]
    public void Removed_exchange_is_no_longer_followed()
    {
        Add("e1", ExchangeType.Fanout, ToExchange("e1", "e2"));
        Add("e2", ExchangeType.Fanout, ToQueue("e2", "q"));
        Assert.Equal(new[] { "q" }, Route("e1", "k"));
        _table.ApplyRemoval(VHost, "e2", new TopologyVersion(1, ++_version));
        Assert.Null(_table.Find(VHost, "e2"));
        Assert.Empty(Route("e1", "k"));
    }

    [Fact]
    public void Cycle_terminates_and_lists_each_queue_once()
    {
        Add("e1", ExchangeType.Fanout, ToExchange("e1", "e2"), ToQueue("e1", "q1"), ToQueue("e1", "shared"));
        Add("e2", ExchangeType.Fanout, ToExchange("e2", "e3"), ToQueue("e2", "q2"), ToQueue("e2", "shared"));
        Add("e3", ExchangeType.Fanout, ToExchange("e3", "e1"), ToQueue("e3", "q3"), ToQueue("e3", "shared"));

        foreach (var start in new[] { "e1", "e2", "e3" })
        {
            var queues = Route(start, "k");
            Assert.Equal(new[] { "q1", "q2", "q3", "shared" }, Sorted(queues));
            Assert.Equal(queues.Count, queues.Distinct().Count());
        }
    }

    [Fact]
    public void Self_binding_terminates()
    {
        Add("e", ExchangeType.Topic, ToExchange("e", "e", "#"), ToQueue("e", "q", "#"));
        Assert.Equal(new[] { "q" }, Route("e", "a.b"));
    }

    [Fact]
    public void Diamond_reaches_the_shared_exchange_once()
    {
        Add("top", ExchangeType.Fanout, ToExchange("top", "left"), ToExchange("top", "right"));
        Add("left", ExchangeType.Fanout, ToExchange("left", "bottom"), ToQueue("left", "ql"));
        Add("right", ExchangeType.Fanout, ToExchange("right", "bottom"), ToQueue("right", "qr"));
        Add("bottom", ExchangeType.Fanout, ToQueue("bottom", "qb"));
        var queues = Route("top", "k");
        Assert.Equal(new[] { "qb", "ql", "qr" }, Sorted(queues));
        Assert.Equal(3, queues.Count);
    }

    [Fact]
    public void Routes_are_per_vhost()
    {
        _table.Apply(new ExchangeRoute(
            new ExchangeDefinition("other", "e2", ExchangeType.Fanout, false, false, false, new FieldTable()),
            new[] { ToQueue("e2", "q-other") }), new TopologyVersion(1, ++_version));
        Add("e1", ExchangeType.Fanout, ToExchange("e1", "e2"));
        Assert.Empty(Route("e1", "k"));
        Assert.Null(_table.Find(VHost, "e2"));
        Assert.NotNull(_table.Find("other", "e2"));
        Assert.Equal(new[] { "e1" }, _table.All(VHost).Select(r => r.Name));
    }

    [Fact]
    public void Route_appends_to_the_callers_list_without_duplicating_it()
    {
        Add("f", ExchangeType.Fanout, ToQueue("f", "q1"), ToQueue("f", "q2"));
        var queues = new List<string> { "q1" };
        _table.Route(VHost, _table.Find(VHost, "f")!, "k", null, queues);
        Assert.Equal(new[] { "q1", "q2" }, queues);
    }
}
