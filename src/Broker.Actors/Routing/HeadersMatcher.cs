using Broker.Protocol;

namespace Broker.Actors.Routing;

/// <summary>
/// The headers exchange's test: binding arguments against message headers, x-match all (the
/// default) or any; "all-with-x"/"any-with-x" also compare keys starting with "x-", as RabbitMQ does.
/// </summary>
public static class HeadersMatcher
{
    public static bool Matches(FieldTable bindingArgs, FieldTable? headers)
    {
        string mode = bindingArgs.GetString("x-match") ?? "all";
        bool any = mode is "any" or "any-with-x";
        bool withX = mode.EndsWith("-with-x", StringComparison.Ordinal);
        foreach (var (key, expected) in bindingArgs)
        {
            if (key == "x-match")
            {
                continue;
            }

            if (!withX && key.StartsWith("x-", StringComparison.Ordinal))
            {
                continue;
            }

            bool present = headers is not null && headers.TryGetValue(key, out var actual) &&
                           (expected is null || FieldValues.DeepEquals(expected, actual));
            if (any && present)
            {
                return true;
            }

            if (!any && !present)
            {
                return false;
            }
        }

        // all: every argument matched (also with no arguments); any: none matched.
        return !any;
    }

    /// <summary>Checks x-match when a binding is made; RabbitMQ answers 406 for other values.</summary>
    public static void Validate(FieldTable bindingArgs)
    {
        if (bindingArgs.TryGetValue("x-match", out var v) &&
            FieldValues.AsString(v) is not ("all" or "any" or "all-with-x" or "any-with-x"))
        {
            throw AmqpException.PreconditionFailed(
                $"Invalid x-match field value {FieldValues.AsString(v) ?? v?.ToString()}; expected all, any, all-with-x, or any-with-x");
        }
    }
}
