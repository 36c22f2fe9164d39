using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// The real broker (<c>dotnet Broker.Node.dll</c>) as a separate OS process, for tests that crash
/// (SIGKILL) or stop (SIGTERM) a node and start it again on the same data. The EndToEnd project
/// references Broker.Node, so the dll, its runtimeconfig and hocon/*.conf sit in the test output folder.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    public const string ReadyLinePrefix = "broker: AMQP 0-9-1 listening";

    public static readonly TimeSpan DefaultStartTimeout = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly object _lock = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string? _ownedDataDir;
    private readonly List<(string Substring, TaskCompletionSource Seen)> _watchers = new();
    private readonly List<(DateTime At, string Line)> _lines = new();

    private NodeProcess(Process process, int port, string dataDir, string? ownedDataDir)
    {
        _process = process;
        Port = port;
        DataDir = dataDir;
        _ownedDataDir = ownedDataDir;
    }

    public int Port { get; }

    /// <summary>The node's management API port, from the line it prints before its ready line.</summary>
    public int ManagementPort
    {
        get
        {
            var match = System.Text.RegularExpressions.Regex.Match(Output, @"management UI and HTTP API on http://[^ ]+:(\d+)/");
            return match.Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)
                : throw new InvalidOperationException($"{this} printed no management address (BROKER_MANAGEMENT_PORT off?)");
        }
    }

    public Uri ManagementUri => new($"http://127.0.0.1:{ManagementPort}/");

    public int Pid { get; private set; }

    public string Uri => $"amqp://guest:guest@127.0.0.1:{Port}/";

    /// <summary>BROKER_DATA_DIR of the process (a temp folder owned and deleted by this object if the caller gave none).</summary>
    public string DataDir { get; }

    /// <summary>From process start until the port accepted TCP and the ready line was printed.</summary>
    public TimeSpan StartupTime { get; private set; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the process wrote so far, stdout and stderr interleaved line by line.</summary>
    public string Output
    {
        get
        {
            lock (_lock)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Folder holding Broker.Node.dll, its runtimeconfig and hocon/*.conf (the test output folder).</summary>
    public static string NodeDll
    {
        get
        {
            string dir = AppContext.BaseDirectory;
            string dll = Path.Combine(dir, "Broker.Node.dll");
            foreach (string needed in new[]
                     {
                         dll, Path.Combine(dir, "Broker.Node.runtimeconfig.json"),
                         Path.Combine(dir, "hocon", "akka.conf"), Path.Combine(dir, "hocon", "broker.conf"),
                     })
            {
                if (!File.Exists(needed))
                {
                    throw new FileNotFoundException(
                        $"{needed} missing: Broker.EndToEnd.Tests references Broker.Node, so it should be in the test output folder", needed);
                }
            }

            return dll;
        }
    }

    /// <summary>A loopback port nobody listens on right now (bind to port 0, read it, release it).</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>
    /// Starts a node and waits until it is ready (port accepts TCP and the ready line is on stdout).
    /// BROKER_* variables of the test process are not inherited; defaults are BROKER_AMQP_PORT (the given
    /// or a free port), BROKER_BIND_ADDRESS=127.0.0.1, BROKER_LOG_LEVEL=INFO and a fresh temp BROKER_DATA_DIR;
    /// <paramref name="env"/> overrides them. Throws with the captured output if the process exits or
    /// <paramref name="startTimeout"/> (default 60 s) passes first.
    /// </summary>
    public static async Task<NodeProcess> StartAsync(IDictionary<string, string>? env = null, int? port = null, TimeSpan? startTimeout = null)
    {
        env ??= new Dictionary<string, string>();
        int p = port ?? FreePort();
        string? owned = null;
        if (!env.TryGetValue("BROKER_DATA_DIR", out string? dataDir) || string.IsNullOrEmpty(dataDir))
        {
            owned = dataDir = Directory.CreateTempSubdirectory("broker-node-").FullName;
        }

        var psi = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        psi.ArgumentList.Add(NodeDll);
        foreach (string key in psi.Environment.Keys.Where(k => k.StartsWith("BROKER_", StringComparison.Ordinal)).ToList())
        {
            psi.Environment.Remove(key);
        }

        psi.Environment["BROKER_AMQP_PORT"] = p.ToString(CultureInfo.InvariantCulture);
        psi.Environment["BROKER_BIND_ADDRESS"] = "127.0.0.1";
        psi.Environment["BROKER_LOG_LEVEL"] = "INFO";
        psi.Environment["BROKER_DATA_DIR"] = dataDir;
        // Any free management port, bound by the node itself (a port picked here could be taken before
        // the node binds it); read from its start-up line. No Prometheus listener.
        psi.Environment["BROKER_MANAGEMENT_PORT"] = "0";
        psi.Environment["BROKER_PROMETHEUS_PORT"] = "off";
        foreach (var (k, v) in env)
        {
            psi.Environment[k] = v;
        }

        var node = new NodeProcess(new Process { StartInfo = psi, EnableRaisingEvents = true }, p, dataDir, owned);
        try
        {
            await node.RunAsync(startTimeout ?? DefaultStartTimeout);
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }

        return node;
    }

    private static string DotnetHost()
    {
        // Set by the dotnet CLI for the processes it runs (dotnet test); else the dotnet on PATH.
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(host) && File.Exists(host) ? host : "dotnet";
    }

    private async Task RunAsync(TimeSpan timeout)
    {
        _process.OutputDataReceived += (_, e) => OnLine(e.Data, stdout: true);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data, stdout: false);
        var clock = Stopwatch.StartNew();
        _process.Start();
        Pid = _process.Id;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = clock.Elapsed + timeout;
        while (true)
        {
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync(); // drains the output
                throw new InvalidOperationException(
                    $"broker process exited with code {_process.ExitCode} before it was ready on port {Port}\n{Output}");
            }

            if (_ready.Task.IsCompleted && await AcceptsTcp(Port))
            {
                StartupTime = clock.Elapsed;
                return;
            }

            if (clock.Elapsed > deadline)
            {
                throw new TimeoutException(
                    $"broker process (pid {Pid}) not ready on port {Port} within {timeout.TotalSeconds:0}s " +
                    $"(ready line seen: {_ready.Task.IsCompleted})\n{Output}");
            }

            await Task.WhenAny(_ready.Task, _process.WaitForExitAsync(), Task.Delay(50));
        }
    }

    private static async Task<bool> AcceptsTcp(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(2));
            return true;
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
            return false;
        }
    }

    private void OnLine(string? line, bool stdout)
    {
        if (line is null)
        {
            return;
        }

        List<TaskCompletionSource>? seen = null;
        lock (_lock)
        {
            _output.Append(line).Append('\n');
            _lines.Add((DateTime.UtcNow, line));
            for (int i = _watchers.Count - 1; i >= 0; i--)
            {
                if (line.Contains(_watchers[i].Substring, StringComparison.Ordinal))
                {
                    (seen ??= new()).Add(_watchers[i].Seen);
                    _watchers.RemoveAt(i);
                }
            }
        }

        seen?.ForEach(s => s.TrySetResult());
        if (stdout && line.StartsWith(ReadyLinePrefix, StringComparison.Ordinal))
        {
            _ready.TrySetResult();
        }
    }

    /// <summary>When the last line containing <paramref name="substring"/> was written, or null if none was.</summary>
    public DateTime? LastLineTime(string substring)
    {
        lock (_lock)
        {
            for (int i = _lines.Count - 1; i >= 0; i--)
            {
                if (_lines[i].Line.Contains(substring, StringComparison.Ordinal))
                {
                    return _lines[i].At;
                }
            }

            return null;
        }
    }

    /// <summary>Waits until a line containing <paramref name="substring"/> was written (including earlier output); throws on timeout.</summary>
    public async Task WaitForOutputAsync(string substring, TimeSpan timeout)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (_output.ToString().Contains(substring, StringComparison.Ordinal))
            {
                return;
            }

            _watchers.Add((substring, seen));
        }

        try
        {
            await seen.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            lock (_lock)
            {
                _watchers.RemoveAll(w => w.Seen == seen);
            }

            throw new TimeoutException($"'{substring}' not in the broker output within {timeout.TotalSeconds:0.#}s\n{Output}");
        }
    }

    /// <summary>SIGKILL: the node dies at once, as in a crash or power cut of the process.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.Kill(entireProcessTree: false); // SIGKILL on Linux
            }
            catch (InvalidOperationException)
            {
                // Exited meanwhile.
            }
        }

        await WaitForExit(StopTimeout, "SIGKILL");
    }

    /// <summary>SIGSTOP (freeze, as a long GC pause or a suspended VM would) or SIGCONT (thaw).</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", new[] { "-" + signal, Pid.ToString(CultureInfo.InvariantCulture) })!;
        await kill.WaitForExitAsync();
    }

    /// <summary>Waits (bounded) for the process to exit by itself; returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await WaitForExit(timeout, "waiting");
        return _process.ExitCode;
    }

    /// <summary>SIGTERM: the node shuts down in order. Returns its exit code; throws if it takes over 30 s.</summary>
    public async Task<int> StopAsync()
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", new[] { "-TERM", Pid.ToString(CultureInfo.InvariantCulture) })!;
            await kill.WaitForExitAsync();
        }

        await WaitForExit(StopTimeout, "SIGTERM");
        return _process.ExitCode;
    }

    private async Task WaitForExit(TimeSpan timeout, string after)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"broker process {Pid} did not exit within {timeout.TotalSeconds:0}s after {after}\n{Output}");
        }
    }

    /// <summary>Kills the process if it still runs and deletes the data folder if this object created it.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Pid != 0 && !_process.HasExited)
            {
                await KillAsync();
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            // Best effort on cleanup.
        }

        _process.Dispose();
        if (_ownedDataDir is not null)
        {
            try
            {
                Directory.Delete(_ownedDataDir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A temp folder left behind does no harm.
            }
        }
    }

    public override string ToString() => $"broker pid {Pid} on 127.0.0.1:{Port}";
}
