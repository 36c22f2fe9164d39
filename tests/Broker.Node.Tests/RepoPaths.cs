using System.Runtime.CompilerServices;

namespace Broker.Node.Tests;

/// <summary>Locates the repository (for its hocon/ folder) and the built node next to the tests.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string HoconDir => Path.Combine(Root, "hocon");

    private static string FindRoot([CallerFilePath] string sourceFile = "")
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(sourceFile) ?? string.Empty })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Broker.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException($"Broker.sln not found above {AppContext.BaseDirectory} or {sourceFile}");
    }
}
