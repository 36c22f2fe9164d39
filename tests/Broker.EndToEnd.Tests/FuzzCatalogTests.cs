using System.Globalization;
using Broker.EndToEnd.Tests.Fuzz;
using Xunit.Abstractions;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// Every kind of targeted fault of the fuzzer, a few cases each, must get its exact answer: a
/// quick check of the reply codes that does not depend on which kinds a timed run happens to
/// draw. With BROKER_FUZZ_REFERENCE_PORT set (a RabbitMQ on 127.0.0.1 at that port, e.g.
/// /work/shared/tools/rabbitmq-local's 5672), the same cases go to it instead, which is how the
/// expectations were checked; the kinds where RabbitMQ answers otherwise say why and are left out.
/// </summary>
public sealed class FuzzCatalogTests
{
    private const int CasesPerKind = 3;

    private readonly ITestOutputHelper _out;

    public FuzzCatalogTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public async Task EveryTargetedFaultGetsRabbitMQsAnswer()
    {
        int? reference = Environment.GetEnvironmentVariable("BROKER_FUZZ_REFERENCE_PORT") is { Length: > 0 } p
            ? int.Parse(p, CultureInfo.InvariantCulture)
            : null;
        await using var broker = reference is null
            ? await BrokerFixture.StartAsync(new Dictionary<string, string>
            {
                ["BROKER_MAX_MESSAGE_SIZE"] = ContentFaults.MaxMessageSize.ToString(CultureInfo.InvariantCulture),
            })
            : null;
        int port = reference ?? broker!.Port;
        int seed = FuzzSettings.Seed;
        _out.WriteLine($"seed {seed} (BROKER_FUZZ_SEED), {(reference is null ? "the broker" : $"the reference on port {reference}")}");

        var cases = new List<(Fault Fault, FuzzCase Case, Random Rng)>();
        foreach (var (fault, kind) in AmqpFuzzer.TargetedFaults.Select((f, k) => (f, k)))
        {
            if (reference is not null && fault.ReferenceDiffers is { } why)
            {
                _out.WriteLine($"left out: {fault.Kind}: {why}");
                continue;
            }

            for (int i = 0; i < CasesPerKind; i++)
            {
                var rng = AmqpFuzzer.RandomFor(seed, kind * 1000 + i);
                cases.Add((fault, fault.Make(rng), rng));
            }
        }

        var results = await Task.WhenAll(cases.Select(async c =>
        {
            try
            {
                var outcome = await FuzzConnection.RunAsync(port, c.Case, c.Rng, FuzzRun.CaseBound);
                return (c.Case, Outcome: outcome.ToString(), Passed: c.Case.Expect.Accepts(outcome));
            }
            catch (Exception e)
            {
                return (c.Case, Outcome: $"{e.GetType().Name}: {e.Message}", Passed: false);
            }
        }));
        foreach (var r in results.OrderBy(r => r.Case.Kind, StringComparer.Ordinal))
        {
            _out.WriteLine($"{(r.Passed ? "ok  " : "FAIL")} {r.Case.Kind,-32} {r.Outcome} | {r.Case.Detail}");
        }

        var failed = results.Where(r => !r.Passed).ToList();
        Assert.True(failed.Count == 0, $"{failed.Count} cases not answered as RabbitMQ answers them:\n" +
            string.Join("\n", failed.Select(f => $"{f.Case}\n    got {f.Outcome}")));
    }
}
