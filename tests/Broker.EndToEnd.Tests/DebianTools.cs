using System.Diagnostics;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// Programs from Debian packages that the tests run against the node (rabbitmqadmin from
/// rabbitmq-server, promtool from prometheus): the installed one, or else the file taken out of
/// the package's .deb (apt-get download + dpkg-deb -x; nothing is installed, no service starts).
/// </summary>
public static class DebianTools
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    public static Task<string> RabbitmqadminAsync() => FindAsync("rabbitmq-server", "usr/bin/rabbitmqadmin");

    public static Task<string> PromtoolAsync() => FindAsync("prometheus", "usr/bin/promtool");

    public static async Task<string> FindAsync(string package, string pathInPackage)
    {
        string installed = "/" + pathInPackage;
        if (File.Exists(installed))
        {
            return installed;
        }

        string dir = Path.Combine(Path.GetTempPath(), "broker-test-tools", package);
        string extracted = Path.Combine(dir, "root", pathInPackage);
        await Gate.WaitAsync();
        try
        {
            if (File.Exists(extracted))
            {
                return extracted;
            }

            Directory.CreateDirectory(dir);
            if (await RunAsync("apt-get", $"download {package}", dir) != 0)
            {
                // A fresh machine may have no package lists yet.
                await RunAsync("apt-get", "update -qq", dir);
                Assert.True(await RunAsync("apt-get", $"download {package}", dir) == 0,
                    $"could not download Debian's {package} package for its {Path.GetFileName(pathInPackage)}");
            }

            string deb = Directory.GetFiles(dir, $"{package}_*.deb").Single();
            Assert.Equal(0, await RunAsync("dpkg-deb", $"-x {deb} root", dir));
            return extracted;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Runs a program to its end (bounded); its exit code.</summary>
    public static async Task<int> RunAsync(string program, string arguments, string workingDirectory)
    {
        var result = await RunWithOutputAsync(program, arguments, workingDirectory, TimeSpan.FromMinutes(5));
        return result.ExitCode;
    }

    public static async Task<(int ExitCode, string Output)> RunWithOutputAsync(string program, string arguments, string? workingDirectory,
        TimeSpan timeout, string? stdin = null)
    {
        var psi = new ProcessStartInfo(program, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        using var process = Process.Start(psi)!;
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }

        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {arguments} did not finish within {timeout}");
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
