using System.Globalization;

namespace Broker.Actors.Queues;

/// <summary>
/// The expiration property: a message TTL in milliseconds written as a decimal string, 0 to ten
/// years (RabbitMQ's rabbit_basic:parse_expiration). A publish with anything else is refused with
/// 406 "invalid expiration '...': reason".
/// </summary>
public static class MessageExpiration
{
    public static bool TryParse(string expiration, out long ms) =>
        Validate(expiration, out ms) is null;

    /// <summary>Null when valid; otherwise RabbitMQ's error term for it.</summary>
    public static string? Validate(string expiration, out long ms)
    {
        ms = 0;
        int digits = 0;
        int start = expiration.Length > 0 && expiration[0] is '-' or '+' ? 1 : 0;
        while (start + digits < expiration.Length && char.IsAsciiDigit(expiration[start + digits]))
        {
            digits++;
        }

        if (digits == 0)
        {
            return "no_integer";
        }

        if (start + digits < expiration.Length)
        {
            return $"{{leftover_string,\"{expiration[(start + digits)..]}\"}}";
        }

        if (!long.TryParse(expiration, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out ms) || ms > QueueArguments.MaxExpiry)
        {
            return $"{{value_too_large,{expiration.TrimStart('+')}}}";
        }

        return ms < 0 ? $"{{value_negative,{ms}}}" : null;
    }
}
