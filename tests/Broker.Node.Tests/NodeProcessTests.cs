using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Broker.Node.Tests;

/// <summary>Runs the built node (dotnet Broker.Node.dll) as a real process, as an operator would.</summary>
public sealed class NodeProcessTests : IDisposable
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly string _temp = Directory.CreateTempSubdirectory("broker-node-tests-").FullName;
    private readonly List<NodeProcess> _started = new();

    public void Dispose()
    {
        foreach (var node in _started)
        {
            node.Dispose();
        }

        Directory.Delete(_temp, recursive: true);
    }

    private static string NodeDll
    {
        get
        {
            string dll = Path.Combine(AppContext.BaseDirectory, "Broker.Node.dll");
            Assert.True(File.Exists(dll), $"{dll} missing: the Node.Tests project references Broker.Node");
            Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "Broker.Node.runtimeconfig.json")),
                "Broker.Node.runtimeconfig.json missing next to the tests");
            return dll;
        }
    }

    [Fact]
    public void Built_node_and_its_hocon_are_copied_next_to_the_tests()
    {
        Assert.True(File.Exists(NodeDll));
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "hocon", "akka.conf")));
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "hocon", "broker.conf")));
    }

    private NodeProcess Start(params (string Name, string Value)[] env)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _temp,
        };
        psi.ArgumentList.Add(NodeDll);
        // A clean broker environment: nothing inherited from the test run's BROKER_* variables.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("BROKER_", StringComparison.Ordinal)).ToList())
        {
            psi.Environment.Remove(key);
        }

        psi.Environment["BROKER_DATA_DIR"] = Path.Combine(_temp, "data-" + _started.Count);
        // Any free management port: nodes of these tests run side by side, and next to a RabbitMQ on 15672.
        psi.Environment["BROKER_MANAGEMENT_PORT"] = "0";
        psi.Environment["BROKER_PROMETHEUS_PORT"] = "off";
        foreach (var (name, value) in env)
        {
            psi.Environment[name] = value;
        }

        var node = new NodeProcess(Process.Start(psi)!);
        _started.Add(node);
        return node;
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static async Task WaitUntilListening(NodeProcess node, int port)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(node.Process.HasExited, $"node exited with {(node.Process.HasExited ? node.Process.ExitCode : 0)} before listening\n{node.Output}");
            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(2));
                return;
            }
            catch (Exception e) when (e is SocketException or TimeoutException)
            {
                // Not listening yet: try again after the node had a moment to start.
                await node.WaitForExitAsync(TimeSpan.FromMilliseconds(200));
            }
        }

        Assert.Fail($"node did not listen on {port} within {StartTimeout}\n{node.Output}");
    }

    private static void SendSigterm(NodeProcess node)
    {
        using var kill = Process.Start("kill", new[] { "-TERM", node.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) })!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    [Fact]
    public async Task Bad_port_exits_with_code_2_naming_the_setting()
    {
        var node = Start(("BROKER_AMQP_PORT", "abc"));
        Assert.True(await node.WaitForExitAsync(ExitTimeout), $"node did not exit\n{node.Output}");
        Assert.Equal(2, node.Process.ExitCode);
        Assert.Contains("broker.amqp.port", node.Stderr);
        Assert.Contains("BROKER_AMQP_PORT", node.Stderr);
    }

    [Fact]
    public async Task Sigterm_shuts_the_node_down_cleanly()
    {
        int port = FreePort();
        var node = Start(("BROKER_AMQP_PORT", port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await WaitUntilListening(node, port);

        SendSigterm(node);
        Assert.True(await node.WaitForExitAsync(ExitTimeout), $"node did not exit after SIGTERM\n{node.Output}");
        Assert.Equal(0, node.Process.ExitCode);
        Assert.Contains("SIGTERM received", node.Stdout);
        Assert.Contains("listening on", node.Stdout);
    }

    /// <summary>Starts a node, then a second one on the same port; returns both once the second has exited.</summary>
    private async Task<(NodeProcess First, NodeProcess Second, string Port)> SecondNodeOnTakenPort()
    {
        int port = FreePort();
        string portText = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var first = Start(("BROKER_AMQP_PORT", portText));
        await WaitUntilListening(first, port);

        var second = Start(("BROKER_AMQP_PORT", portText));
        bool exited = await second.WaitForExitAsync(StartTimeout);
        Assert.True(exited, $"second node on a taken port did not exit\n{second.Output}");
        return (first, second, portText);
    }

    [Fact]
    public async Task Second_node_on_a_taken_port_exits_with_an_error()
    {
        var (first, second, _) = await SecondNodeOnTakenPort();
        Assert.NotEqual(0, second.Process.ExitCode);
        Assert.Contains("could not start", second.Stderr);
        Assert.False(first.Process.HasExited, $"first node died\n{first.Output}");

        SendSigterm(first);
        Assert.True(await first.WaitForExitAsync(ExitTimeout), $"first node did not exit after SIGTERM\n{first.Output}");
        Assert.Equal(0, first.Process.ExitCode);
    }

    /// <summary>
    /// An operator must be able to tell which listener could not bind: the error should name the
    /// address and port (as configuration errors name their setting).
    /// </summary>
    [Fact]
    public async Task Second_node_on_a_taken_port_names_the_port_it_could_not_bind()
    {
        var (_, second, port) = await SecondNodeOnTakenPort();
        Assert.NotEqual(0, second.Process.ExitCode);
        Assert.Contains(port, second.Stderr);
    }

    private sealed class NodeProcess : IDisposable
    {
        private readonly StringBuilder _stdout = new();
        private readonly StringBuilder _stderr = new();
        private readonly Task _readOut;
        private readonly Task _readErr;

        public NodeProcess(Process process)
        {
            Process = process;
            _readOut = Pump(process.StandardOutput, _stdout);
            _readErr = Pump(process.StandardError, _stderr);
        }

        public Process Process { get; }

        public string Stdout
        {
            get
            {
                lock (_stdout)
                {
                    return _stdout.ToString();
                }
            }
        }

        public string Stderr
        {
            get
            {
                lock (_stderr)
                {
                    return _stderr.ToString();
                }
            }
        }

        public string Output => $"--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";

        /// <summary>True when the process exited (and its output was read to the end) in time.</summary>
        public async Task<bool> WaitForExitAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await Process.WaitForExitAsync(cts.Token);
                await Task.WhenAll(_readOut, _readErr).WaitAsync(TimeSpan.FromSeconds(5));
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        private static async Task Pump(StreamReader reader, StringBuilder into)
        {
            var buffer = new char[4096];
            int n;
            while ((n = await reader.ReadAsync(buffer)) > 0)
            {
                lock (into)
                {
                    into.Append(buffer, 0, n);
                }
            }
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit(10000);
            }

            Process.Dispose();
        }
    }
}
