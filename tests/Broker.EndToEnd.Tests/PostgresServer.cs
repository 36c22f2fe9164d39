using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// A throwaway PostgreSQL server from Debian's <c>postgresql</c> package (binaries under
/// /usr/lib/postgresql/N/bin; the highest N is used), in a temp folder on a free loopback port, with one
/// fresh database. PostgreSQL refuses to run as root, so as root (tests and CI run as root) initdb,
/// pg_ctl and postgres run as the <c>postgres</c> OS user the package creates, via runuser.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(90);

    private readonly string _bin;
    private readonly bool _asPostgresUser;
    private bool _running;

    private PostgresServer(string bin, bool asPostgresUser, string root, int port, string database)
    {
        _bin = bin;
        _asPostgresUser = asPostgresUser;
        RootDir = root;
        Port = port;
        Database = database;
    }

    public int Port { get; }

    public string Database { get; }

    /// <summary>Temp folder holding the cluster (data/), the server log (log) and the unix socket.</summary>
    public string RootDir { get; }

    public string DataDir => Path.Combine(RootDir, "data");

    public string LogFile => Path.Combine(RootDir, "log");

    /// <summary>From StartAsync being called until the database existed.</summary>
    public TimeSpan StartupTime { get; private set; }

    /// <summary>Npgsql connection string. Authentication is trust, so the password is not checked.</summary>
    public string ConnectionString =>
        $"Host=127.0.0.1;Port={Port};Database={Database};Username=postgres;Password=postgres;Pooling=true";

    /// <summary>The bin folder of the highest installed PostgreSQL version, or null if none is installed.</summary>
    public static string? FindBinDirectory()
    {
        const string root = "/usr/lib/postgresql";
        if (!Directory.Exists(root))
        {
            return null;
        }

        return Directory.GetDirectories(root)
            .Select(d => (Dir: d, Ok: double.TryParse(Path.GetFileName(d), NumberStyles.Float, CultureInfo.InvariantCulture, out double v), Version: v))
            .Where(x => x.Ok && File.Exists(Path.Combine(x.Dir, "bin", "pg_ctl")) && File.Exists(Path.Combine(x.Dir, "bin", "postgres")))
            .OrderByDescending(x => x.Version)
            .Select(x => Path.Combine(x.Dir, "bin"))
            .FirstOrDefault();
    }

    public static async Task<PostgresServer> StartAsync()
    {
        var clock = Stopwatch.StartNew();
        string? bin = FindBinDirectory();
        if (bin is null)
        {
            // A fresh machine: install Debian's server (as root), so the test command needs nothing run before it.
            var (_, output) = await TestPrerequisites.InstallDebianPackagesAsync("postgresql");
            bin = FindBinDirectory() ?? throw new InvalidOperationException(
                "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin and installing Debian's postgresql package " +
                $"did not help (.ci/run installs it: apt-get install postgresql):\n{output}");
        }

        bool asRoot = (await Run("id", new[] { "-u" }, null, TimeSpan.FromSeconds(10))).Trim() == "0";

        for (int attempt = 1; ; attempt++)
        {
            string root = Directory.CreateTempSubdirectory("broker-pg-").FullName;
            var server = new PostgresServer(bin, asRoot, root, NodeProcess.FreePort(),
                "broker_test_" + Guid.NewGuid().ToString("N")[..12]);
            try
            {
                await server.InitAndStart();
                server.StartupTime = clock.Elapsed;
                return server;
            }
            catch when (attempt < 3 && server.PortTaken())
            {
                // Another process took the free port between picking and binding it: try another one.
                await server.DisposeAsync();
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }
    }

    private bool PortTaken()
    {
        try
        {
            return File.Exists(LogFile) && File.ReadAllText(LogFile).Contains("already in use", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private async Task InitAndStart()
    {
        if (_asPostgresUser)
        {
            // The temp folder is root's; the postgres user must own it to create the cluster and socket in it.
            await Run("chown", new[] { "-R", "postgres:postgres", RootDir }, null, CommandTimeout);
        }

        await Server("initdb", "-D", DataDir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C");
        // fsync=off only makes the tests faster; a crash of the test machine loses nothing we need.
        string options = $"-c listen_addresses=127.0.0.1 -c port={Port} -c unix_socket_directories={RootDir} -c fsync=off";
        _running = true; // from here on, DisposeAsync tries to stop a server even if the start fails half way
        try
        {
            await Server("pg_ctl", "-D", DataDir, "-o", options, "-w", "-t", "60", "-l", LogFile, "start");
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            string log = File.Exists(LogFile) ? File.ReadAllText(LogFile) : "(no server log)";
            throw new InvalidOperationException($"{e.Message}\nserver log {LogFile}:\n{log}", e);
        }
        await PsqlAsync($"CREATE DATABASE {Database}", "postgres");
    }

    /// <summary>Runs SQL with psql (unaligned, tuples only) against the test database (or <paramref name="database"/>); returns stdout.</summary>
    public Task<string> PsqlAsync(string sql, string? database = null)
    {
        // psql is happy as root; trust authentication needs no password.
        string psql = File.Exists(Path.Combine(_bin, "psql")) ? Path.Combine(_bin, "psql") : "psql";
        return Run(psql, new[]
        {
            "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture),
            "-U", "postgres", "-d", database ?? Database, "-c", sql,
        }, null, CommandTimeout);
    }

    /// <summary>Runs a server binary, as the postgres user when the tests run as root.</summary>
    private Task<string> Server(string tool, params string[] args)
    {
        string exe = Path.Combine(_bin, tool);
        return _asPostgresUser
            ? Run("runuser", new[] { "-u", "postgres", "--", exe }.Concat(args).ToArray(), RootDir, CommandTimeout)
            : Run(exe, args, RootDir, CommandTimeout);
    }

    private static async Task<string> Run(string file, string[] args, string? workingDirectory, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            psi.WorkingDirectory = workingDirectory;
        }

        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        // No PG* variables of the test run leak into the tools.
        foreach (string key in psi.Environment.Keys.Where(k => k.StartsWith("PG", StringComparison.Ordinal)).ToList())
        {
            psi.Environment.Remove(key);
        }

        var output = new StringBuilder();
        var stdout = new StringBuilder();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (output)
            {
                output.AppendLine(e.Data);
                stdout.AppendLine(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (output)
            {
                output.AppendLine(e.Data);
            }
        };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string command = file + " " + string.Join(" ", args);
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            lock (output)
            {
                throw new TimeoutException($"'{command}' did not finish within {timeout.TotalSeconds:0}s\n{output}");
            }
        }

        lock (output)
        {
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"'{command}' failed with exit code {process.ExitCode}\n{output}");
            }

            return stdout.ToString();
        }
    }

    /// <summary>Stops the server at once (pg_ctl stop -m immediate) and deletes its folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_running)
        {
            _running = false;
            try
            {
                await Server("pg_ctl", "-D", DataDir, "-m", "immediate", "-w", "-t", "30", "stop");
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException)
            {
                // Best effort: the folder goes anyway, and the server with it on the next reboot at the latest.
            }
        }

        try
        {
            Directory.Delete(RootDir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A temp folder left behind does no harm.
        }
    }

    public override string ToString() => $"PostgreSQL on 127.0.0.1:{Port}, database {Database}";
}

/// <summary>One PostgreSQL server shared by every test in the "postgres" collection.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private PostgresServer? _server;

    public PostgresServer Server => _server ?? throw new InvalidOperationException("not started");

    public string ConnectionString => Server.ConnectionString;

    public async Task InitializeAsync() => _server = await PostgresServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

[CollectionDefinition("postgres")]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
}
