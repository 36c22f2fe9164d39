using System.Diagnostics;

namespace Broker.EndToEnd.Tests;

/// <summary>The node's command line (`Broker.Node GROUP ARGS... --uri URI`), run as its own process against a running node.</summary>
internal static class NodeCli
{
    public static async Task<(int ExitCode, string Output)> RunAsync(string uri, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(NodeProcess.NodeDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.ArgumentList.Add("--uri");
        psi.ArgumentList.Add(uri);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        return (p.ExitCode, await stdout + await stderr);
    }

    /// <summary>Runs the command and fails the test unless it succeeded.</summary>
    public static async Task<string> OkAsync(string uri, params string[] args)
    {
        var (code, output) = await RunAsync(uri, args);
        Assert.True(code == 0, $"'{string.Join(' ', args)}' exited {code}: {output}");
        return output;
    }
}
