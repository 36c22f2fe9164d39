using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Broker.Bench;

/// <summary>What the soak samples of the broker: the process from /proc (RSS, threads, fds, CPU) and the management API's view.</summary>
internal readonly record struct NodeSample(
    double RssMb, int Threads, int Fds, double CpuSeconds, double DiskMb,
    double MemUsedMb, int Connections, int Channels, int Queues, int Consumers, long Messages);

/// <summary>
/// Reads <see cref="NodeSample"/>s. Anything not available (no --node-pid, no --management, a
/// request that failed) is NaN or -1, never an error: the soak goes on and says what it lacked.
/// </summary>
internal sealed class NodeStats : IDisposable
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly int _pid;
    private readonly string? _dataDir;
    private readonly HttpClient? _http;

    public NodeStats(int pid, string? dataDir, Uri? management, Uri amqp)
    {
        _pid = pid;
        _dataDir = dataDir;
        if (management is not null)
        {
            _http = new HttpClient { BaseAddress = management, Timeout = TimeSpan.FromSeconds(3) };
            // The management API takes the same user as AMQP (guest/guest by default).
            string[] user = amqp.UserInfo.Split(':', 2);
            string name = Uri.UnescapeDataString(user.Length > 0 && user[0].Length > 0 ? user[0] : "guest");
            string pass = Uri.UnescapeDataString(user.Length > 1 ? user[1] : "guest");
            _http.DefaultRequestHeaders.Authorization =
                new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{name}:{pass}")));
        }
    }

    public async Task<NodeSample> TakeAsync()
    {
        (double rss, int threads) = ProcStatus();
        int fds = -1;
        try
        {
            fds = _pid > 0 ? Directory.GetFiles($"/proc/{_pid}/fd").Length : -1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        double memUsed = double.NaN;
        int connections = -1, channels = -1, queues = -1, consumers = -1;
        long messages = -1;
        if (_http is not null)
        {
            using JsonDocument? overview = await GetAsync("api/overview").ConfigureAwait(false);
            if (overview is not null && overview.RootElement.TryGetProperty("object_totals", out JsonElement totals))
            {
                connections = Int(totals, "connections");
                channels = Int(totals, "channels");
                queues = Int(totals, "queues");
                consumers = Int(totals, "consumers");
                if (overview.RootElement.TryGetProperty("queue_totals", out JsonElement q) && q.TryGetProperty("messages", out JsonElement m))
                {
                    messages = m.GetInt64();
                }
            }
            using JsonDocument? nodes = await GetAsync("api/nodes").ConfigureAwait(false);
            if (nodes is { RootElement.ValueKind: JsonValueKind.Array })
            {
                // In a cluster, the node whose process is sampled; else the first.
                JsonElement? node = null;
                foreach (JsonElement n in nodes.RootElement.EnumerateArray())
                {
                    bool mine = n.TryGetProperty("os_pid", out JsonElement p) && p.ToString() == _pid.ToString(Inv);
                    if (node is null || mine)
                    {
                        node = n;
                    }
                }
                if (node is { } found && found.TryGetProperty("mem_used", out JsonElement used) && used.ValueKind == JsonValueKind.Number)
                {
                    memUsed = used.GetDouble() / (1024 * 1024);
                }
            }
        }

        return new NodeSample(rss, threads, fds, BrokerCpu.Seconds(_pid), DiskMb(), memUsed, connections, channels, queues, consumers, messages);
    }

    /// <summary>VmRSS (MiB) and Threads from /proc/PID/status.</summary>
    private (double RssMb, int Threads) ProcStatus()
    {
        if (_pid <= 0)
        {
            return (double.NaN, -1);
        }
        double rss = double.NaN;
        int threads = -1;
        try
        {
            foreach (string line in File.ReadLines($"/proc/{_pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = long.Parse(line[6..].Trim().Split(' ')[0], Inv) / 1024.0; // kB
                }
                else if (line.StartsWith("Threads:", StringComparison.Ordinal))
                {
                    threads = int.Parse(line[8..].Trim(), Inv);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            // the node exited: the sample says so with NaN
        }
        return (rss, threads);
    }

    /// <summary>Bytes of every file under the data directory, in MiB (SQLite's database and its WAL).</summary>
    private double DiskMb()
    {
        if (_dataDir is null)
        {
            return double.NaN;
        }
        try
        {
            return new DirectoryInfo(_dataDir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length) / (1024.0 * 1024);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return double.NaN; // a file went while being listed: the next sample will do
        }
    }

    private async Task<JsonDocument?> GetAsync(string path)
    {
        try
        {
            using HttpResponseMessage response = await _http!.GetAsync(path).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync().ConfigureAwait(false));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            return null;
        }
    }

    private static int Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : -1;

    public void Dispose() => _http?.Dispose();
}
