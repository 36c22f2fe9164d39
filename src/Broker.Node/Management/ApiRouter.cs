namespace Broker.Node.Management;

public delegate Task ApiHandler(ApiRequest request);

/// <summary>
/// Matches /api paths segment by segment, on the raw (still percent-encoded) path, so a vhost
/// named "/" (sent as %2F) or a name with spaces is one segment, decoded once.
/// </summary>
public sealed class ApiRouter
{
    private readonly List<(string Method, string[] Pattern, ApiHandler Handler)> _routes = new();

    /// <summary>Adds a route; a pattern segment in braces ({vhost}) matches any one segment and names it.</summary>
    public ApiRouter Map(string method, string pattern, ApiHandler handler)
    {
        _routes.Add((method, pattern.Split('/', StringSplitOptions.RemoveEmptyEntries), handler));
        return this;
    }

    /// <summary>The handler and the named segments; no handler but pathKnown: the path exists for another method (405).</summary>
    public (ApiHandler? Handler, Dictionary<string, string> Values, bool PathKnown) Find(string method, IReadOnlyList<string> segments)
    {
        bool pathKnown = false;
        foreach (var (m, pattern, handler) in _routes)
        {
            var values = Match(pattern, segments);
            if (values is null)
            {
                continue;
            }

            if (m == method || (method == "HEAD" && m == "GET"))
            {
                return (handler, values, true);
            }

            pathKnown = true;
        }

        return (null, new Dictionary<string, string>(), pathKnown);
    }

    private static Dictionary<string, string>? Match(string[] pattern, IReadOnlyList<string> segments)
    {
        if (pattern.Length != segments.Count)
        {
            return null;
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < pattern.Length; i++)
        {
            if (pattern[i].StartsWith('{'))
            {
                values[pattern[i][1..^1]] = segments[i];
            }
            else if (pattern[i] != segments[i])
            {
                return null;
            }
        }

        return values;
    }

    /// <summary>The segments of a raw request target after "/api/", each percent-decoded once.</summary>
    public static List<string> Segments(string rawTarget)
    {
        int query = rawTarget.IndexOf('?');
        string path = query >= 0 ? rawTarget[..query] : rawTarget;
        return path.Split('/', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(Uri.UnescapeDataString).ToList();
    }
}
