namespace Broker.EndToEnd.Tests;

/// <summary>
/// What the end-to-end tests need from outside .NET, installed by the tests themselves when it is
/// missing, so the README's test command passes on a fresh machine with nothing run before it:
/// Debian packages (postgresql, chromium, python3-pika, python3-celery; only as root, as .ci/run
/// runs) and the interop scripts' npm packages (npm ci, from the lock file).
/// </summary>
public static class TestPrerequisites
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static bool _aptUpdated;

    /// <summary>Installs the Debian packages with apt-get (refreshing the package lists once); false when not root or it failed.</summary>
    public static async Task<(bool Ok, string Output)> InstallDebianPackagesAsync(params string[] packages)
    {
        if (Environment.UserName != "root")
        {
            return (false, $"not root: install {string.Join(' ', packages)} with apt-get");
        }

        await Gate.WaitAsync();
        try
        {
            if (!_aptUpdated)
            {
                await DebianTools.RunWithOutputAsync("/usr/bin/env", "DEBIAN_FRONTEND=noninteractive apt-get update -qq", null, TimeSpan.FromMinutes(5));
                _aptUpdated = true;
            }

            var (code, output) = await DebianTools.RunWithOutputAsync("/usr/bin/env",
                $"DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends {string.Join(' ', packages)}", null,
                TimeSpan.FromMinutes(10));
            return (code == 0, output);
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>amqplib and the other npm packages of tests/interop, as its package-lock.json pins them.</summary>
    public static async Task EnsureInteropNpmPackagesAsync(string repoRoot)
    {
        string interop = Path.Combine(repoRoot, "tests", "interop");
        if (File.Exists(Path.Combine(interop, "node_modules", "amqplib", "package.json")))
        {
            return;
        }

        await Gate.WaitAsync();
        try
        {
            if (File.Exists(Path.Combine(interop, "node_modules", "amqplib", "package.json")))
            {
                return;
            }

            var (code, output) = await DebianTools.RunWithOutputAsync("npm", "ci --no-audit --no-fund --loglevel=error", interop, TimeSpan.FromMinutes(5));
            Assert.True(code == 0, $"npm ci in {interop} failed (exit {code}):\n{output}");
        }
        finally
        {
            Gate.Release();
        }
    }
}
