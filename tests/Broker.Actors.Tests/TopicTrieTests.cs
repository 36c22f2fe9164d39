using Broker.Actors.Routing;
using Broker.Protocol;

namespace Broker.Actors.Tests;

public class TopicTrieTests
{
    private static Binding Bind(string pattern, string queue) =>
        new("ex", queue, false, pattern, new FieldTable());

    /// <summary>Queue names of the bindings whose pattern matches the key, without duplicates, sorted.</summary>
    private static string[] MatchOne(string pattern, string key) => Matches(new[] { Bind(pattern, "q") }, key);

    private static string[] Matches(IEnumerable<Binding> bindings, string key)
    {
        var trie = new TopicTrie(bindings);
        var result = new List<Binding>();
        trie.Match(key, result);
        return result.Select(b => b.Destination).Distinct().OrderBy(d => d, StringComparer.Ordinal).ToArray();
    }

    private static bool IsMatch(string pattern, string key) => MatchOne(pattern, key).Length == 1;

    [Theory]
    [InlineData("a.b.c", "a.b.c", true)]
    [InlineData("a.b.c", "a.b", false)]
    [InlineData("a.b.c", "a.b.c.d", false)]
    [InlineData("a.b.c", "a.b.x", false)]
    [InlineData("a", "a", true)]
    [InlineData("a", "A", false)]
    [InlineData("", "", true)]
    [InlineData("", "a", false)]
    public void Exact_words(string pattern, string key, bool expected) =>
        Assert.Equal(expected, IsMatch(pattern, key));

    [Theory]
    [InlineData("*", "a", true)]
    [InlineData("*", "", false)] // '*' is exactly one word: an empty key has none
    [InlineData("*", "a.b", false)]
    [InlineData("a.*", "a", false)] // not zero words
    [InlineData("a.*", "a.b", true)]
    [InlineData("a.*", "a.b.c", false)]
    [InlineData("*.b", "a.b", true)]
    [InlineData("*.b", "b", false)]
    [InlineData("a.*.c", "a.b.c", true)]
    [InlineData("a.*.c", "a.c", false)]
    [InlineData("*.*", "a.b", true)]
    [InlineData("*.*", "a", false)]
    public void Star_matches_exactly_one_word(string pattern, string key, bool expected) =>
        Assert.Equal(expected, IsMatch(pattern, key));

    [Theory]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("a.b.c.d")]
    [InlineData("..")]
    [InlineData("#")]
    public void Hash_alone_matches_every_key(string key) => Assert.True(IsMatch("#", key));

    [Theory]
    [InlineData("a.#", "a", true)] // zero words
    [InlineData("a.#", "a.b", true)]
    [InlineData("a.#", "a.b.c", true)]
    [InlineData("a.#", "b.a", false)]
    [InlineData("#.b", "b", true)]
    [InlineData("#.b", "a.b", true)]
    [InlineData("#.b", "x.y.b", true)]
    [InlineData("#.b", "b.c", false)]
    [InlineData("a.#.b", "a.b", true)]
    [InlineData("a.#.b", "a.x.b", true)]
    [InlineData("a.#.b", "a.x.y.z.b", true)]
    [InlineData("a.#.b", "a.x.y", false)]
    [InlineData("a.#.b", "a.b.c", false)]
    [InlineData("a.#.b", "a.b.b", true)]
    [InlineData("a.*.#", "a", false)] // '*' still needs its word
    [InlineData("a.*.#", "a.b", true)]
    [InlineData("a.*.#", "a.b.c.d", true)]
    [InlineData("#.*", "", false)]
    [InlineData("#.*", "a", true)]
    [InlineData("#.*", "a.b.c", true)]
    [InlineData("#.#", "", true)]
    [InlineData("#.#", "a.b", true)]
    [InlineData("#.a.#", "a", true)]
    [InlineData("#.a.#", "x.a.y", true)]
    [InlineData("#.a.#", "x.y", false)]
    public void Hash_matches_zero_or_more_words(string pattern, string key, bool expected) =>
        Assert.Equal(expected, IsMatch(pattern, key));

    [Theory]
    [InlineData("a..b", "a..b", true)]
    [InlineData("a.*.b", "a..b", true)] // the empty word is a word
    [InlineData("a.b", "a..b", false)]
    [InlineData("a.#", "a.", true)]
    [InlineData("a.*", "a.", true)]
    [InlineData("*", ".", false)] // "." is two empty words
    [InlineData("*.*", ".", true)]
    [InlineData("#.b", ".b", true)]
    public void Empty_words_are_words(string pattern, string key, bool expected) =>
        Assert.Equal(expected, IsMatch(pattern, key));

    [Fact]
    public void Every_matching_binding_is_returned()
    {
        var bindings = new[]
        {
            Bind("a.b.c", "exact"),
            Bind("a.*.c", "star"),
            Bind("a.#", "hash"),
            Bind("#", "all"),
            Bind("a.b", "shorter"),
            Bind("*.b.c", "star-first"),
            Bind("a.b.c", "exact-2"), // same pattern, another queue
            Bind("x.#", "other"),
        };

        Assert.Equal(new[] { "all", "exact", "exact-2", "hash", "star", "star-first" }, Matches(bindings, "a.b.c"));
        Assert.Equal(new[] { "all", "hash", "shorter" }, Matches(bindings, "a.b"));
        Assert.Equal(new[] { "all", "other" }, Matches(bindings, "x"));
        Assert.Equal(new[] { "all" }, Matches(bindings, ""));
    }

    [Fact]
    public void No_bindings_match_nothing()
    {
        Assert.Empty(Matches(Array.Empty<Binding>(), "a.b"));
        Assert.Empty(Matches(Array.Empty<Binding>(), ""));
    }

    [Fact]
    public void Agrees_with_a_reference_matcher_on_random_patterns_and_keys()
    {
        var rng = new Random(20240917);
        string[] keyWords = { "a", "b", "c", "" };
        string[] patternWords = { "a", "b", "c", "", "*", "#", "*", "#" };

        string RandomJoin(string[] words, int maxLen)
        {
            int n = rng.Next(0, maxLen + 1);
            return string.Join('.', Enumerable.Range(0, n).Select(_ => words[rng.Next(words.Length)]));
        }

        var patterns = Enumerable.Range(0, 300).Select(_ => RandomJoin(patternWords, 5)).ToList();
        patterns.AddRange(new[] { "#", "*", "", "#.#", "a.#.b", "#.b", "a.*.#" });
        var bindings = patterns.Select((p, i) => Bind(p, $"q{i:D3}")).ToArray();
        var trie = new TopicTrie(bindings);

        var keys = Enumerable.Range(0, 400).Select(_ => RandomJoin(keyWords, 6)).Distinct().ToList();
        int totalMatches = 0;
        foreach (var key in keys)
        {
            var result = new List<Binding>();
            trie.Match(key, result);
            var actual = result.Select(b => b.Destination).Distinct().OrderBy(d => d, StringComparer.Ordinal).ToArray();
            var expected = bindings.Where(b => Reference(b.RoutingKey, key)).Select(b => b.Destination)
                .OrderBy(d => d, StringComparer.Ordinal).ToArray();
            Assert.True(expected.SequenceEqual(actual),
                $"key '{key}': expected [{string.Join(",", expected.Select(q => bindings[int.Parse(q[1..])].RoutingKey))}] " +
                $"got [{string.Join(",", actual.Select(q => bindings[int.Parse(q[1..])].RoutingKey))}]");
            totalMatches += expected.Length;
        }

        // The generated cases must exercise matching, not only non-matching.
        Assert.True(totalMatches > keys.Count, $"only {totalMatches} matches over {keys.Count} keys");
    }

    /// <summary>A direct recursive definition of AMQP topic matching, independent of the trie.</summary>
    private static bool Reference(string pattern, string key)
    {
        string[] p = pattern.Length == 0 ? Array.Empty<string>() : pattern.Split('.');
        string[] k = key.Length == 0 ? Array.Empty<string>() : key.Split('.');
        return Match(0, 0);

        bool Match(int pi, int ki)
        {
            if (pi == p.Length)
            {
                return ki == k.Length;
            }

            if (p[pi] == "#")
            {
                return Match(pi + 1, ki) || (ki < k.Length && Match(pi, ki + 1));
            }

            return ki < k.Length && (p[pi] == "*" || p[pi] == k[ki]) && Match(pi + 1, ki + 1);
        }
    }

    [Fact]
    public void Reference_matcher_sanity()
    {
        // Guards the reference itself against being trivially permissive or strict.
        Assert.True(Reference("a.#.b", "a.x.y.b"));
        Assert.False(Reference("a.#.b", "a.x.y"));
        Assert.False(Reference("*", ""));
        Assert.True(Reference("#", ""));
        Assert.True(Reference("a.*.c", "a..c"));
    }
}
