using System.Text.Json;

namespace Broker.Bench;

/// <summary>The bench's JSON output writes a figure it could not measure (NaN, infinity) as null.</summary>
internal static class JsonNumbers
{
    public static void WriteNumberOrNull(this Utf8JsonWriter w, string name, double v, int digits)
    {
        if (double.IsFinite(v))
        {
            w.WriteNumber(name, Math.Round(v, digits));
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
