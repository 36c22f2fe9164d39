using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Broker.Bench;

/// <summary>
/// The soak's verdict: the broker's RSS after warm-up (min, max, last and the least-squares slope
/// in MB per 10 minutes), throughput, and the accounting of every confirmed message.
/// </summary>
internal sealed class SoakSummary
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly SoakOptions _o;
    private readonly IReadOnlyList<SoakSample> _samples;
    private readonly SoakSample[] _steady;

    public SoakSummary(SoakOptions o, IReadOnlyList<SoakSample> samples, SoakLedger ledger, SoakReport report,
        long lostDurable, long lostTransient, LeftBehind left)
    {
        _o = o;
        _samples = samples;
        _steady = samples.Where(s => s.Phase == "run" && s.Seconds >= o.EffectiveWarmup).ToArray();
        SoakSample[] rss = _steady.Where(s => double.IsFinite(s.Node.RssMb)).ToArray();
        if (rss.Length > 0)
        {
            RssFirst = rss[0].Node.RssMb;
            RssMin = rss.Min(s => s.Node.RssMb);
            RssMax = rss.Max(s => s.Node.RssMb);
            RssLast = rss[^1].Node.RssMb;
            RssSlope = SlopePerTenMinutes(rss.Select(s => (s.Seconds, s.Node.RssMb)).ToArray());
        }
        SoakSample[] disk = _steady.Where(s => double.IsFinite(s.Node.DiskMb)).ToArray();
        if (disk.Length > 0)
        {
            DiskFirst = disk[0].Node.DiskMb;
            DiskMax = disk.Max(s => s.Node.DiskMb);
            DiskLast = disk[^1].Node.DiskMb;
        }
        SoakSample[] mem = _steady.Where(s => double.IsFinite(s.Node.MemUsedMb)).ToArray();
        MemUsedSlope = SlopePerTenMinutes(mem.Select(s => (s.Seconds, s.Node.MemUsedMb)).ToArray());
        PeakRss = samples.Where(s => double.IsFinite(s.Node.RssMb)).Select(s => s.Node.RssMb).DefaultIfEmpty(double.NaN).Max();
        ConsumeMean = _steady.Select(s => s.ConsumeRate).DefaultIfEmpty(double.NaN).Average();
        ConsumeMin = _steady.Select(s => s.ConsumeRate).DefaultIfEmpty(double.NaN).Min();
        ConfirmMean = _steady.Select(s => s.ConfirmRate).DefaultIfEmpty(double.NaN).Average();
        ConfirmMin = _steady.Select(s => s.ConfirmRate).DefaultIfEmpty(double.NaN).Min();
        Published = ledger.Published;
        Confirmed = ledger.ConfirmedCount;
        Nacked = ledger.Nacked;
        Delivered = ledger.Delivered;
        Consumed = ledger.ConsumedCount;
        Redelivered = ledger.Redelivered;
        Duplicates = ledger.Duplicates;
        Unflagged = ledger.UnflaggedRedeliveries;
        Invalid = ledger.Invalid;
        LostDurable = lostDurable;
        LostTransient = lostTransient;
        Kills = report.Kills;
        Resets = report.Resets;
        Replacements = report.Replacements;
        Errors = report.Errors;
        ErrorCount = report.ErrorCount;
        Left = left;
    }

    public double RssFirst { get; } = double.NaN;
    public double RssMin { get; } = double.NaN;
    public double RssMax { get; } = double.NaN;
    public double RssLast { get; } = double.NaN;
    public double RssSlope { get; } = double.NaN;
    public double MemUsedSlope { get; }
    public double DiskFirst { get; } = double.NaN;
    public double DiskMax { get; } = double.NaN;
    public double DiskLast { get; } = double.NaN;
    public double PeakRss { get; }
    public double ConsumeMean { get; }
    public double ConsumeMin { get; }
    public double ConfirmMean { get; }
    public double ConfirmMin { get; }
    public long Published { get; }
    public long Confirmed { get; }
    public long Nacked { get; }
    public long Delivered { get; }
    public long Consumed { get; }
    public long Redelivered { get; }
    public long Duplicates { get; }
    public long Unflagged { get; }
    public long Invalid { get; }
    public long LostDurable { get; }
    public long LostTransient { get; }
    public long Kills { get; }
    public long Resets { get; }
    public long Replacements { get; }
    public IReadOnlyList<string> Errors { get; }
    public long ErrorCount { get; }
    public LeftBehind Left { get; }

    public bool SlopeOk => !double.IsFinite(_o.MaxRssSlope) || (double.IsFinite(RssSlope) && RssSlope <= _o.MaxRssSlope);

    public bool Ok => LostDurable == 0 && LostTransient == 0 && Nacked == 0 && Unflagged == 0 && Invalid == 0 && ErrorCount == 0
        && Left.Connections <= 0 && Left.Queues <= 0 && SlopeOk;

    /// <summary>Least-squares slope of y over t (seconds), in y per 10 minutes; NaN with fewer than two points.</summary>
    public static double SlopePerTenMinutes(IReadOnlyList<(double T, double Y)> points)
    {
        if (points.Count < 2)
        {
            return double.NaN;
        }
        double tMean = points.Average(p => p.T), yMean = points.Average(p => p.Y);
        double num = 0, den = 0;
        foreach ((double t, double y) in points)
        {
            num += (t - tMean) * (y - yMean);
            den += (t - tMean) * (t - tMean);
        }
        return den > 0 ? num / den * 600 : double.NaN;
    }

    public void Print()
    {
        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine("Broker.Bench soak results");
        sb.AppendLine("  options:     " + _o.Describe());
        sb.AppendLine(string.Create(Inv, $"  rss after warm-up ({_o.EffectiveWarmup:0} s, {_steady.Length} samples): first {RssFirst:0.0} MB  min {RssMin:0.0}  max {RssMax:0.0}  last {RssLast:0.0}  slope {RssSlope:+0.00;-0.00} MB per 10 min{(double.IsFinite(_o.MaxRssSlope) ? $" (limit {_o.MaxRssSlope:0.##})" : "")}"));
        sb.AppendLine(string.Create(Inv, $"  peak rss:    {PeakRss:0.0} MB over the whole run;  mem_used slope after warm-up {MemUsedSlope:+0.00;-0.00} MB per 10 min"));
        sb.AppendLine(string.Create(Inv, $"  data dir:    after warm-up first {DiskFirst:0.0} MB  max {DiskMax:0.0}  last {DiskLast:0.0}"));
        sb.AppendLine(string.Create(Inv, $"  throughput:  acked mean {ConsumeMean:N0}/s min {ConsumeMin:N0}/s;  confirmed mean {ConfirmMean:N0}/s min {ConfirmMin:N0}/s (per sample, after warm-up)"));
        sb.AppendLine("  rss over time:");
        foreach (SoakSample s in Milestones())
        {
            sb.AppendLine(string.Create(Inv,
                $"    {s.Seconds / 60,6:0.0} min {s.Phase,-6} rss {s.Node.RssMb,7:0.0} MB  mem_used {s.Node.MemUsedMb,7:0.0} MB  threads {s.Node.Threads,3}  fds {s.Node.Fds,4}  disk {s.Node.DiskMb,5:0.0} MB  connections {s.Node.Connections,3}  queues {s.Node.Queues,3}  acked {s.ConsumeRate,6:0}/s"));
        }
        sb.AppendLine(string.Create(Inv,
            $"  messages:    published {Published:N0}  confirmed {Confirmed:N0}  nacked {Nacked:N0}  delivered {Delivered:N0}  acked (unique) {Consumed:N0}  redelivered {Redelivered:N0}"));
        sb.AppendLine(string.Create(Inv,
            $"  lost:        {LostDurable:N0} persistent (durable queues) + {LostTransient:N0} transient  duplicates {Duplicates:N0}  redelivered-without-flag {Unflagged:N0}  invalid {Invalid:N0}"));
        sb.AppendLine(string.Create(Inv, $"  chaos:       {Kills:N0} kills ({Resets:N0} RST, {Kills - Resets:N0} FIN), {Replacements:N0} replacement clients"));
        sb.AppendLine(string.Create(Inv, $"  left behind: {Describe(Left.Connections)} connections, {Describe(Left.Queues)} queues after every client closed and the queues were deleted"));
        foreach (string e in Errors)
        {
            sb.AppendLine("  error:       " + e);
        }
        if (ErrorCount > Errors.Count)
        {
            sb.AppendLine(string.Create(Inv, $"  error:       ... {ErrorCount - Errors.Count} more"));
        }
        sb.AppendLine("  result:      " + (Ok ? "OK" : "FAIL"));
        Console.Write(sb.ToString());
    }

    /// <summary>The baseline, the samples nearest every 5 minutes (every minute in runs under 20 minutes), and the last ones.</summary>
    private IEnumerable<SoakSample> Milestones()
    {
        double step = _o.Duration >= 1200 ? 300 : 60;
        var picked = _samples.Where(s => s.Phase == "before").ToList();
        SoakSample[] run = _samples.Where(s => s.Phase == "run").ToArray();
        for (double at = 0; run.Length > 0 && at <= _o.Duration + step / 2; at += step)
        {
            SoakSample best = run.MinBy(s => Math.Abs(s.Seconds - at));
            if (!picked.Contains(best))
            {
                picked.Add(best);
            }
        }
        picked.AddRange(_samples.Where(s => s.Phase is not "run" and not "before").TakeLast(2));
        return picked;
    }

    private static string Describe(int n) => n < 0 ? "unknown" : n.ToString(Inv);

    public string ToJson()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("options", _o.Describe());
            w.WriteNumber("seed", _o.Seed);
            w.WriteStartArray("samples");
            foreach (SoakSample s in _samples)
            {
                w.WriteStartObject();
                w.WriteNumber("t", Math.Round(s.Seconds, 1));
                w.WriteString("phase", s.Phase);
                w.WriteNumberOrNull("rssMb", s.Node.RssMb, 2);
                w.WriteNumberOrNull("memUsedMb", s.Node.MemUsedMb, 2);
                w.WriteNumber("threads", s.Node.Threads);
                w.WriteNumber("fds", s.Node.Fds);
                w.WriteNumberOrNull("diskMb", s.Node.DiskMb, 2);
                w.WriteNumber("connections", s.Node.Connections);
                w.WriteNumber("channels", s.Node.Channels);
                w.WriteNumber("queues", s.Node.Queues);
                w.WriteNumber("consumers", s.Node.Consumers);
                w.WriteNumber("messages", s.Node.Messages);
                w.WriteNumberOrNull("brokerCores", s.BrokerCores, 2);
                w.WriteNumberOrNull("publishRate", s.PublishRate, 2);
                w.WriteNumberOrNull("confirmRate", s.ConfirmRate, 2);
                w.WriteNumberOrNull("deliverRate", s.DeliverRate, 2);
                w.WriteNumberOrNull("ackRate", s.ConsumeRate, 2);
                w.WriteNumber("kills", s.Kills);
                w.WriteNumber("liveClients", s.LiveClients);
                w.WriteNumber("missing", s.Missing);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("summary");
            w.WriteNumber("warmupSeconds", _o.EffectiveWarmup);
            w.WriteNumberOrNull("rssFirstMb", RssFirst, 2);
            w.WriteNumberOrNull("rssMinMb", RssMin, 2);
            w.WriteNumberOrNull("rssMaxMb", RssMax, 2);
            w.WriteNumberOrNull("rssLastMb", RssLast, 2);
            w.WriteNumberOrNull("rssSlopeMbPer10Min", RssSlope, 2);
            w.WriteNumberOrNull("memUsedSlopeMbPer10Min", MemUsedSlope, 2);
            w.WriteNumberOrNull("peakRssMb", PeakRss, 2);
            w.WriteNumberOrNull("diskFirstMb", DiskFirst, 2);
            w.WriteNumberOrNull("diskMaxMb", DiskMax, 2);
            w.WriteNumberOrNull("diskLastMb", DiskLast, 2);
            w.WriteNumberOrNull("ackRateMean", ConsumeMean, 2);
            w.WriteNumberOrNull("ackRateMin", ConsumeMin, 2);
            w.WriteNumberOrNull("confirmRateMean", ConfirmMean, 2);
            w.WriteNumberOrNull("confirmRateMin", ConfirmMin, 2);
            w.WriteNumber("published", Published);
            w.WriteNumber("confirmed", Confirmed);
            w.WriteNumber("nacked", Nacked);
            w.WriteNumber("delivered", Delivered);
            w.WriteNumber("acked", Consumed);
            w.WriteNumber("redelivered", Redelivered);
            w.WriteNumber("lostPersistent", LostDurable);
            w.WriteNumber("lostTransient", LostTransient);
            w.WriteNumber("duplicates", Duplicates);
            w.WriteNumber("redeliveredWithoutFlag", Unflagged);
            w.WriteNumber("invalid", Invalid);
            w.WriteNumber("kills", Kills);
            w.WriteNumber("killsRst", Resets);
            w.WriteNumber("replacements", Replacements);
            w.WriteNumber("errors", ErrorCount);
            w.WriteNumber("leftConnections", Left.Connections);
            w.WriteNumber("leftQueues", Left.Queues);
            w.WriteBoolean("ok", Ok);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

}

/// <summary>Connections and queues the broker still shows after the soak closed everything, above what it had before (-1: not known).</summary>
internal readonly record struct LeftBehind(int Connections, int Queues);
