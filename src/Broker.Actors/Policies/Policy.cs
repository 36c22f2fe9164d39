using System.Text.RegularExpressions;
using Broker.Protocol;

namespace Broker.Actors.Policies;

/// <summary>
/// A policy (RabbitMQ's rabbitmqctl set_policy): queue and exchange settings applied to every
/// queue or exchange of a vhost whose name matches a regular expression. Of the policies that
/// match, the one with the highest priority applies (ties: the name that sorts first).
/// </summary>
public sealed record Policy(string VHost, string Name, string Pattern, string ApplyTo, int Priority, FieldTable Definition)
{
    public const string Queues = "queues";

    /// <summary>The policy as RabbitMQ writes one (HTTP API, definitions files, the admin endpoint's listing).</summary>
    public System.Text.Json.Nodes.JsonObject ToJson() => new()
    {
        ["vhost"] = VHost,
        ["name"] = Name,
        ["pattern"] = Pattern,
        ["apply-to"] = ApplyTo,
        ["definition"] = Management.FieldTableJson.ToJson(Definition),
        ["priority"] = Priority,
    };

    public const string Exchanges = "exchanges";
    public const string All = "all";

    /// <summary>The definition keys a policy may set, and whether each takes an integer (else a string).</summary>
    private static readonly Dictionary<string, bool> Keys = new(StringComparer.Ordinal)
    {
        ["message-ttl"] = true,
        ["expires"] = true,
        ["max-length"] = true,
        ["max-length-bytes"] = true,
        ["delivery-limit"] = true,
        ["dead-letter-exchange"] = false,
        ["dead-letter-routing-key"] = false,
        ["overflow"] = false,
        ["alternate-exchange"] = false,
        // Accepted and ignored, as the queue argument is.
        ["queue-mode"] = false,
    };

    private Regex? _regex;

    /// <summary>Null when valid; otherwise what is wrong, worded for the command line.</summary>
    public string? Validate()
    {
        if (ApplyTo is not (Queues or Exchanges or All))
        {
            return $"apply-to must be one of 'queues', 'exchanges' or 'all', not '{ApplyTo}'";
        }

        try
        {
            _ = new Regex(Pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException e)
        {
            return $"'{Pattern}' is not a valid regular expression: {e.Message}";
        }

        if (Definition.Count == 0)
        {
            return "the definition is empty";
        }

        foreach (var (key, value) in Definition)
        {
            if (!Keys.TryGetValue(key, out bool integer))
            {
                return key == "max-priority"
                    ? "'max-priority' cannot be set by a policy (use the x-max-priority queue argument)"
                    : $"'{key}' is not a recognised policy setting";
            }

            if (integer && FieldValues.AsLong(value) is not >= 0)
            {
                return $"'{key}' must be a non-negative integer";
            }

            if (!integer && FieldValues.AsString(value) is null)
            {
                return $"'{key}' must be a string";
            }
        }

        if (FieldValues.AsString(Definition.GetValueOrDefault("overflow")) is { } overflow &&
            overflow is not ("drop-head" or "reject-publish" or "reject-publish-dlx"))
        {
            return $"'overflow' must be drop-head, reject-publish or reject-publish-dlx, not '{overflow}'";
        }

        if (FieldValues.AsLong(Definition.GetValueOrDefault("expires")) == 0)
        {
            return "'expires' must be above 0";
        }

        return null;
    }

    /// <summary>Whether it applies to this queue (<paramref name="isQueue"/>) or exchange.</summary>
    public bool Matches(string name, bool isQueue) =>
        (ApplyTo == All || ApplyTo == (isQueue ? Queues : Exchanges)) &&
        (_regex ??= new Regex(Pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1))).IsMatch(name);

    public long? Integer(string key) => FieldValues.AsLong(Definition.GetValueOrDefault(key));

    public string? Text(string key) => FieldValues.AsString(Definition.GetValueOrDefault(key));
}
