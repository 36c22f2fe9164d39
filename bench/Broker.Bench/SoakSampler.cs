using System.Diagnostics;
using System.Globalization;

namespace Broker.Bench;

/// <summary>One line of the soak's record: the broker's state and the clients' rates over the interval before it.</summary>
internal readonly record struct SoakSample(
    double Seconds, string Phase, NodeSample Node, double BrokerCores,
    double PublishRate, double ConfirmRate, double DeliverRate, double ConsumeRate,
    long Kills, int LiveClients, long Missing);

/// <summary>
/// Every --sample-every seconds records and prints a <see cref="SoakSample"/>, so the memory curve
/// can be read while the soak runs and from its output afterwards.
/// </summary>
internal sealed class SoakSampler(NodeStats node, SoakLedger ledger, SoakReport report, Func<int> liveClients, long startTimestamp)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly List<SoakSample> _samples = [];
    private (long At, long Published, long Confirmed, long Delivered, long Consumed, double Cpu) _prev;

    public volatile string Phase = "run";

    public IReadOnlyList<SoakSample> Samples
    {
        get
        {
            lock (_samples)
            {
                return [.. _samples];
            }
        }
    }

    public static string Header =>
        "      t phase     rss MB  mem MB thr  fds disk MB conn   ch  q   msgs   pub/s  conf/s deliv/s   ack/s cores kills";

    /// <summary>Prints the header and the broker as it was before the soak (the baseline for connections, queues and fds).</summary>
    public async Task<SoakSample> StartAsync()
    {
        Console.WriteLine(Header);
        Phase = "before";
        SoakSample s = await TakeAsync().ConfigureAwait(false);
        Phase = "run";
        return s;
    }

    public async Task RunAsync(TimeSpan every, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(every);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                await TakeAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Records and prints one sample now (the sampler's ticks, and once more at the very end).</summary>
    public async Task<SoakSample> TakeAsync()
    {
        NodeSample n = await node.TakeAsync().ConfigureAwait(false);
        long now = Stopwatch.GetTimestamp();
        long published = ledger.Published, confirmed = ledger.ConfirmedCount, delivered = ledger.Delivered, consumed = ledger.ConsumedCount;
        if (_prev.At == 0)
        {
            _prev = (now, published, confirmed, delivered, consumed, n.CpuSeconds); // the first sample has no interval: rates 0
        }
        double dt = Math.Max(1e-3, Stopwatch.GetElapsedTime(_prev.At, now).TotalSeconds);
        var s = new SoakSample(
            Stopwatch.GetElapsedTime(startTimestamp, now).TotalSeconds, Phase, n, (n.CpuSeconds - _prev.Cpu) / dt,
            (published - _prev.Published) / dt, (confirmed - _prev.Confirmed) / dt,
            (delivered - _prev.Delivered) / dt, (consumed - _prev.Consumed) / dt,
            report.Kills, liveClients(), ledger.Missing());
        _prev = (now, published, confirmed, delivered, consumed, n.CpuSeconds);
        lock (_samples)
        {
            _samples.Add(s);
        }
        Console.WriteLine(Format(s));
        return s;
    }

    private static string Format(SoakSample s) => string.Create(Inv,
        $"{s.Seconds,7:0} {s.Phase,-6} {s.Node.RssMb,9:0.0} {s.Node.MemUsedMb,7:0.0} {s.Node.Threads,3} {s.Node.Fds,4} {s.Node.DiskMb,7:0.0} " +
        $"{s.Node.Connections,4} {s.Node.Channels,4} {s.Node.Queues,2} {s.Node.Messages,6} " +
        $"{s.PublishRate,7:0} {s.ConfirmRate,7:0} {s.DeliverRate,7:0} {s.ConsumeRate,7:0} {s.BrokerCores,5:0.00} {s.Kills,5}");
}
