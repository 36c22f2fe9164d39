using System.Globalization;

namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>
/// The fuzz run's knobs, from the environment so a run can be made longer or replayed without a
/// code change:
/// BROKER_FUZZ_SECONDS (how long connections are fuzzed; 60 by default),
/// BROKER_FUZZ_SEED (the run's seed; a fresh one by default, printed either way),
/// BROKER_FUZZ_CASES (comma-separated case numbers: replay only those, with the seed),
/// BROKER_FUZZ_CONNECTIONS (fuzzed connections open at once; 8 by default).
/// </summary>
public static class FuzzSettings
{
    public static TimeSpan Duration => TimeSpan.FromSeconds(Number("BROKER_FUZZ_SECONDS") ?? 60);

    public static int Seed => (int?)Number("BROKER_FUZZ_SEED") ?? Random.Shared.Next();

    public static int Connections => (int?)Number("BROKER_FUZZ_CONNECTIONS") ?? 8;

    /// <summary>The cases to replay, or null for a run of the given duration.</summary>
    public static long[]? Replay =>
        Environment.GetEnvironmentVariable("BROKER_FUZZ_CASES") is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray()
            : null;

    private static long? Number(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } s ? long.Parse(s, CultureInfo.InvariantCulture) : null;
}
