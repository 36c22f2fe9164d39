using System.Globalization;
using System.Text.Json.Nodes;

namespace Broker.Node.Management;

/// <summary>The query options RabbitMQ's list endpoints take: sort, sort_reverse, page, page_size, name (filter), columns.</summary>
public static class ApiListing
{
    public static JsonNode Shape(List<JsonObject> items, ApiRequest request)
    {
        if (request.Query("sort") is { Length: > 0 } sort)
        {
            items = items.OrderBy(i => Lookup(i, sort), ValueComparer.Instance).ToList();
        }

        if (request.Query("sort_reverse") == "true")
        {
            items.Reverse();
        }

        var columns = request.Query("columns") is { Length: > 0 } c ? c.Split(',', StringSplitOptions.RemoveEmptyEntries) : null;
        if (request.Query("page") is not { Length: > 0 } pageText)
        {
            return new JsonArray(items.Select(i => (JsonNode?)Columns(i, columns)).ToArray());
        }

        int total = items.Count;
        if (request.Query("name") is { Length: > 0 } name)
        {
            var regex = request.Query("use_regex") == "true" ? NameRegex(name) : null;
            try
            {
                items = items.Where(i => i["name"]?.GetValueKind() == System.Text.Json.JsonValueKind.String &&
                                         (regex?.IsMatch(i["name"]!.GetValue<string>()) ?? i["name"]!.GetValue<string>().Contains(name, StringComparison.Ordinal)))
                    .ToList();
            }
            catch (System.Text.RegularExpressions.RegexMatchTimeoutException)
            {
                throw ApiException.BadRequest($"name filter '{name}' takes too long to match");
            }
        }

        int page = Math.Max(1, int.TryParse(pageText, NumberStyles.Integer, CultureInfo.InvariantCulture, out int p) ? p : 1);
        int size = int.TryParse(request.Query("page_size"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) && s > 0 ? Math.Min(s, 500) : 100;
        int pageCount = Math.Max(1, (items.Count + size - 1) / size);
        var pageItems = items.Skip((page - 1) * size).Take(size).Select(i => (JsonNode?)Columns(i, columns)).ToArray();
        return new JsonObject
        {
            ["filtered_count"] = items.Count,
            ["item_count"] = pageItems.Length,
            ["items"] = new JsonArray(pageItems),
            ["page"] = page,
            ["page_count"] = pageCount,
            ["page_size"] = size,
            ["total_count"] = total,
        };
    }

    private static System.Text.RegularExpressions.Regex NameRegex(string pattern)
    {
        try
        {
            return new System.Text.RegularExpressions.Regex(pattern, System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromMilliseconds(100));
        }
        catch (ArgumentException e)
        {
            throw ApiException.BadRequest($"name filter is not a regular expression: {e.Message}");
        }
    }

    /// <summary>Only the named fields; a dotted name keeps its whole top-level field, as RabbitMQ does.</summary>
    private static JsonObject Columns(JsonObject item, string[]? columns)
    {
        if (columns is null)
        {
            return item;
        }

        var result = new JsonObject();
        foreach (string column in columns)
        {
            string top = column.Split('.')[0];
            if (item.TryGetPropertyValue(top, out var value) && !result.ContainsKey(top))
            {
                item.Remove(top);
                result[top] = value;
            }
        }

        return result;
    }

    private static JsonNode? Lookup(JsonObject item, string path)
    {
        JsonNode? node = item;
        foreach (string part in path.Split('.'))
        {
            node = node is JsonObject o && o.TryGetPropertyValue(part, out var next) ? next : null;
        }

        return node;
    }

    private sealed class ValueComparer : IComparer<JsonNode?>
    {
        public static readonly ValueComparer Instance = new();

        public int Compare(JsonNode? a, JsonNode? b)
        {
            if (a?.GetValueKind() == System.Text.Json.JsonValueKind.Number && b?.GetValueKind() == System.Text.Json.JsonValueKind.Number)
            {
                return double.Parse(a.ToJsonString(), CultureInfo.InvariantCulture)
                    .CompareTo(double.Parse(b.ToJsonString(), CultureInfo.InvariantCulture));
            }

            return string.CompareOrdinal(a?.ToString(), b?.ToString());
        }
    }
}
