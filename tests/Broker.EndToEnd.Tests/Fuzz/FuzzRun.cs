using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>What became of one case.</summary>
public sealed record CaseResult(long Index, FuzzCase Case, Outcome? Outcome, string? Error, TimeSpan Took)
{
    public bool Passed => Error is null && Outcome is not null && Case.Expect.Accepts(Outcome);

    public override string ToString() =>
        $"case {Index} {Case}\n    got {(Error is not null ? "an exception: " + Error : Outcome!.ToString())} after {Took.TotalSeconds:0.0} s";
}

/// <summary>
/// Runs fuzz cases against a broker, several connections at a time, numbering them from 0 across
/// calls so that every case of a run has its own number for a replay.
/// </summary>
public sealed class FuzzRun
{
    /// <summary>
    /// How long one fuzzed connection may take to end: the handshake timeout (10 s) or three quiet
    /// periods with a nudge each, plus the close timeout (3 s), with room for a loaded machine.
    /// </summary>
    public static readonly TimeSpan CaseBound = TimeSpan.FromSeconds(30);

    private readonly int _port;
    private readonly AmqpFuzzer _fuzzer;
    private readonly ConcurrentQueue<CaseResult> _results = new();
    private long _next = -1;

    public FuzzRun(int port, int seed)
    {
        _port = port;
        Seed = seed;
        _fuzzer = new AmqpFuzzer(seed);
    }

    public int Seed { get; }

    public IReadOnlyList<CaseResult> Results => _results.OrderBy(r => r.Index).ToList();

    /// <summary>Starts new cases on <paramref name="connections"/> connections until <paramref name="duration"/> is over, then lets them finish.</summary>
    public async Task RunForAsync(TimeSpan duration, int connections)
    {
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Task.Run(async () =>
        {
            while (clock.Elapsed < duration)
            {
                await RunCaseAsync(Interlocked.Increment(ref _next));
            }
        })));
    }

    /// <summary>Runs the given cases (a replay).</summary>
    public async Task RunCasesAsync(IEnumerable<long> indexes, int connections)
    {
        var queue = new ConcurrentQueue<long>(indexes);
        await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Task.Run(async () =>
        {
            while (queue.TryDequeue(out long index))
            {
                await RunCaseAsync(index);
            }
        })));
    }

    private async Task RunCaseAsync(long index)
    {
        var (c, rng) = _fuzzer.Make(index);
        var clock = Stopwatch.StartNew();
        try
        {
            var outcome = await FuzzConnection.RunAsync(_port, c, rng, CaseBound);
            _results.Enqueue(new CaseResult(index, c, outcome, null, clock.Elapsed));
        }
        catch (Exception e)
        {
            _results.Enqueue(new CaseResult(index, c, null, $"{e.GetType().Name}: {e.Message}", clock.Elapsed));
        }
    }

    /// <summary>Per kind of case: how many, and how they ended.</summary>
    public string Summary()
    {
        var sb = new StringBuilder();
        foreach (var kind in Results.GroupBy(r => r.Case.Kind).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var outcomes = kind.GroupBy(r => r.Outcome is { } o ? (o.Kind is OutcomeKind.ConnectionClose or OutcomeKind.ChannelClose ? $"{o.Kind} {o.Code}" : o.Kind.ToString()) : "exception")
                .OrderByDescending(g => g.Count()).Select(g => $"{g.Key} x{g.Count()}");
            sb.AppendLine($"  {kind.Key,-32} {kind.Count(),5}  max {kind.Max(r => r.Took.TotalSeconds),4:0.0} s  {string.Join(", ", outcomes)}");
        }

        return sb.ToString();
    }
}
