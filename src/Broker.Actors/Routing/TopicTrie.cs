namespace Broker.Actors.Routing;

/// <summary>
/// Topic bindings as a trie over dot-separated words, with '*' (exactly one word) and '#' (zero
/// or more words) edges, so matching costs the key's length rather than the number of bindings.
/// Immutable once built: an exchange builds a new one when its bindings change.
/// </summary>
public sealed class TopicTrie
{
    private readonly Node _root = new();

    public TopicTrie(IEnumerable<Binding> bindings)
    {
        foreach (var b in bindings)
        {
            var node = _root;
            foreach (var word in Words(b.RoutingKey))
            {
                node.Children ??= new Dictionary<string, Node>(StringComparer.Ordinal);
                if (!node.Children.TryGetValue(word, out var child))
                {
                    child = new Node();
                    node.Children[word] = child;
                }

                node = child;
            }

            node.Bindings ??= new List<Binding>();
            node.Bindings.Add(b);
        }
    }

    /// <summary>Adds every binding whose pattern matches <paramref name="routingKey"/> (duplicates possible).</summary>
    public void Match(string routingKey, List<Binding> result)
    {
        Walk(_root, Words(routingKey), 0, result);
    }

    /// <summary>An empty key has no words (so '*' does not match it, '#' does), as in RabbitMQ.</summary>
    private static string[] Words(string key) => key.Length == 0 ? Array.Empty<string>() : key.Split('.');

    private static void Walk(Node node, string[] words, int index, List<Binding> result)
    {
        if (index == words.Length)
        {
            if (node.Bindings is not null)
            {
                result.AddRange(node.Bindings);
            }

            // A trailing '#' matches zero words.
            if (node.Children is not null && node.Children.TryGetValue("#", out var tail))
            {
                Walk(tail, words, index, result);
            }

            return;
        }

        if (node.Children is null)
        {
            return;
        }

        if (node.Children.TryGetValue(words[index], out var exact))
        {
            Walk(exact, words, index + 1, result);
        }

        if (node.Children.TryGetValue("*", out var star))
        {
            Walk(star, words, index + 1, result);
        }

        if (node.Children.TryGetValue("#", out var hash))
        {
            // '#' swallows zero or more words.
            for (int i = index; i <= words.Length; i++)
            {
                Walk(hash, words, i, result);
            }
        }
    }

    private sealed class Node
    {
        public Dictionary<string, Node>? Children;
        public List<Binding>? Bindings;
    }
}
