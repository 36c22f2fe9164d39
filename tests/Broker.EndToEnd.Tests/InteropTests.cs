using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// Drives the broker with independent client libraries (Node's amqplib, Python's pika, a real
/// Celery worker) so protocol mistakes that RabbitMQ.Client happens to tolerate still show up.
/// The client scripts live in tests/interop; amqplib is installed with
/// <c>npm ci --prefix tests/interop</c>, pika and Celery from Debian (python3-pika, python3-celery),
/// both done by .ci/run.
/// </summary>
[Collection("broker")]
public sealed class InteropTests
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(60);

    private readonly BrokerFixture _broker;

    public InteropTests(BrokerFixture broker) => _broker = broker;

    [Fact]
    public async Task AmqplibRoundTrip()
    {
        var root = FindRepoRoot();
        var interopDir = Path.Combine(root, "tests", "interop");
        var script = Path.Combine(interopDir, "amqplib-roundtrip.js");
        Assert.True(File.Exists(script), $"interop script not found at {script}");
        await TestPrerequisites.EnsureInteropNpmPackagesAsync(root);

        var (exitCode, output) = await RunAsync("node", [script, _broker.Uri], root, ScriptTimeout);

        Assert.True(exitCode == 0, $"amqplib interop script exited with code {exitCode}; output:\n{output}");
        Assert.Contains("\"ok\":true", output);
    }

    [Fact]
    public async Task PikaDrivesTheQueueFeatures()
    {
        var root = FindRepoRoot();
        await RequirePythonModulesAsync(root, "pika");
        var (exitCode, output) = await RunAsync(DebianPython, [Path.Combine(root, "tests", "interop", "pika-features.py"), _broker.Port.ToString()],
            root, ScriptTimeout);
        Assert.True(exitCode == 0, $"pika script exited with code {exitCode}; output:\n{output}");
        Assert.Contains("OK", output);
    }

    /// <summary>
    /// A content header larger than the consumer's negotiated frame_max goes out whole, as RabbitMQ
    /// sends it (a header frame cannot be split), and pika reads it (tests/interop/pika-big-header.py
    /// passes against RabbitMQ 3.10.8 too).
    /// </summary>
    [Fact]
    public async Task PikaGetsAHeaderLargerThanItsFrameMax()
    {
        var root = FindRepoRoot();
        await RequirePythonModulesAsync(root, "pika");
        var (exitCode, output) = await RunAsync(DebianPython, [Path.Combine(root, "tests", "interop", "pika-big-header.py"), _broker.Port.ToString()],
            root, ScriptTimeout);
        Assert.True(exitCode == 0, $"pika script exited with code {exitCode}; output:\n{output}");
        Assert.Contains("OK", output);
    }

    /// <summary>
    /// A real Celery worker (Debian's celery 5.2 on kombu and py-amqp): a task, a task with a
    /// countdown (ETA: the worker holds it unacked and raises its prefetch), and a task that retries
    /// twice with a countdown (republished by the worker).
    /// </summary>
    [Fact]
    public async Task CeleryWorkerRunsTasksWithCountdownAndRetries()
    {
        var root = FindRepoRoot();
        await RequirePythonModulesAsync(root, "celery");
        var (exitCode, output) = await RunAsync(DebianPython,
            [Path.Combine(root, "tests", "interop", "celery", "roundtrip.py"), _broker.Port.ToString()], root, TimeSpan.FromSeconds(150));
        Assert.True(exitCode == 0, $"Celery script exited with code {exitCode}; output:\n{output}");
        Assert.Contains("OK", output);
    }

    /// <summary>
    /// RabbitMQ's access-control table, operation by operation: tests/interop/access-probe.py sets
    /// up users, vhosts, permissions, topic permissions and limits with the node's command line
    /// and drives every AMQP operation with pika as allowed and refused users; its output must
    /// equal what the same script printed against RabbitMQ 3.10.8 (access-rabbitmq.expected),
    /// reply codes and texts included, except where README.md lists a deliberate difference.
    /// </summary>
    [Fact]
    public async Task PermissionsMatchRabbitMqOperationByOperation()
    {
        var root = FindRepoRoot();
        await RequirePythonModulesAsync(root, "pika");
        await using var node = await BrokerFixture.StartAsync(new Dictionary<string, string>());
        var (exitCode, output) = await RunAsync(DebianPython,
            [Path.Combine(root, "tests", "interop", "access-probe.py"), "--port", node.Port.ToString(), "--ctl", "broker", "--broker-dll", NodeProcess.NodeDll],
            root, TimeSpan.FromSeconds(150));
        Assert.True(exitCode == 0, $"access probe exited with code {exitCode}; output:\n{output}");

        // RabbitMQ caches a channel's granted checks until it idles (~1 s), so a busy channel may
        // repeat an operation after its permission was cleared; here a change applies at once.
        var deliberate = new Dictionary<string, string>
        {
            ["life-cleared-busy-channel-same-op"] = "403\tACCESS_REFUSED - access to queue 'life-q' in vhost 'ap-main' refused for user 'ap-life'",
        };
        var expected = File.ReadAllLines(Path.Combine(root, "tests", "interop", "access-rabbitmq.expected"))
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split('\t', 2))
            .Select(p => $"{p[0]}\t{deliberate.GetValueOrDefault(p[0], p.Length > 1 ? p[1] : "")}")
            .ToList();
        var actual = output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Contains('\t')).ToList();
        Assert.Equal(string.Join('\n', expected), string.Join('\n', actual));
    }

    /// <summary>Debian's interpreter, which has Debian's python3-* packages (a pyenv python3 on PATH would not).</summary>
    internal const string DebianPython = "/usr/bin/python3";

    private static readonly SemaphoreSlim PythonInstall = new(1, 1);

    /// <summary>
    /// Makes sure Debian's python can import the module, installing python3-pika and python3-celery
    /// with apt-get when it cannot and this runs as root (as .ci/run does), so the test command
    /// needs nothing run before it.
    /// </summary>
    internal static async Task RequirePythonModulesAsync(string root, string module)
    {
        await PythonInstall.WaitAsync();
        try
        {
            if ((await RunAsync(DebianPython, ["-c", $"import {module}"], root, ScriptTimeout)).ExitCode == 0)
            {
                return;
            }

            var (ok, output) = await TestPrerequisites.InstallDebianPackagesAsync("python3-pika", "python3-celery");
            if (ok && (await RunAsync(DebianPython, ["-c", $"import {module}"], root, ScriptTimeout)).ExitCode == 0)
            {
                return;
            }

            Assert.Fail($"{DebianPython} cannot import {module}, and installing python3-pika and python3-celery did not help " +
                        $"(`bash .ci/run` in {root} installs them):\n{output}");
        }
        finally
        {
            PythonInstall.Release();
        }
    }

    internal static async Task<(int ExitCode, string Output)> RunAsync(string file, string[] args, string workingDir, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stdout)
                {
                    stdout.AppendLine(e.Data);
                }
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }
            }
        };

        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            Assert.Fail($"could not start `{file}` ({ex.Message}); Node.js 20+ must be on PATH for the interop tests.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Exited between the timeout and the kill.
            }

            await process.WaitForExitAsync();
            Assert.Fail($"`{file} {string.Join(' ', args)}` did not finish within {timeout.TotalSeconds:0} s; output so far:\n{Describe(stdout, stderr)}");
        }

        // The parameterless wait also drains the redirected streams.
        await process.WaitForExitAsync();
        return (process.ExitCode, Describe(stdout, stderr));
    }

    private static string Describe(StringBuilder stdout, StringBuilder stderr)
    {
        lock (stdout)
        {
            lock (stderr)
            {
                return $"--- stdout ---\n{stdout}--- stderr ---\n{stderr}";
            }
        }
    }

    /// <summary>
    /// The folder holding Broker.sln: found from the test binaries, the working directory, or
    /// (when built with an --artifacts-path outside the repository) this source file's location.
    /// </summary>
    internal static string FindRepoRoot([CallerFilePath] string sourceFile = "")
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory(), Path.GetDirectoryName(sourceFile) })
        {
            for (var dir = string.IsNullOrEmpty(start) ? null : new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Broker.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        Assert.Fail($"could not find the repository root (the folder containing Broker.sln) above {AppContext.BaseDirectory}");
        return string.Empty;
    }
}
