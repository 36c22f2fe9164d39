using System.Text.Json.Nodes;

namespace Broker.Node;

/// <summary>
/// `alarms list|set-memory-watermark|set-disk-free-limit` on the node's command line, like
/// rabbitmqctl's list alarms, set_vm_memory_high_watermark and set_disk_free_limit. A limit belongs
/// to the node the command reaches (--uri); the alarms listed are the whole cluster's.
/// </summary>
internal static class AlarmCommand
{
    public const string Usage = """
        usage: Broker.Node alarms list [--uri URI]
               Broker.Node alarms set-memory-watermark VALUE [--uri URI]
               Broker.Node alarms set-disk-free-limit SIZE [--uri URI]

          VALUE  a fraction of the memory the node may have (0.4), or a size (2GB, 1536MiB, bytes)
          SIZE   free space below which the disk alarm is set (50MB, 2GiB, bytes)
        """ + AdminClient.ConnectionHelp;

    /// <summary>Runs the command; the exit code is 0 on success, 1 when the broker refused or could not be reached, 2 on bad usage.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var (positional, options) = AdminClient.Parse(args);
        var command = new JsonObject();
        switch (positional.FirstOrDefault())
        {
            case "list" when positional.Count == 1:
                command["command"] = "list_alarms";
                break;
            case "set-memory-watermark" when positional.Count == 2:
                command["command"] = "set_vm_memory_high_watermark";
                command["value"] = positional[1];
                break;
            case "set-disk-free-limit" when positional.Count == 2:
                command["command"] = "set_disk_free_limit";
                command["value"] = positional[1];
                break;
            default:
                stderr.WriteLine(Usage);
                return 2;
        }

        return await AdminClient.RunAsync("alarms", command, options, stdout, stderr, Print);
    }

    private static void Print(JsonObject answer, TextWriter stdout)
    {
        stdout.WriteLine($"node {(string?)answer["node"]}: memory high watermark {(string?)answer["memory_high_watermark"]} " +
            $"({(long?)answer["memory_limit"]} bytes), disk free limit {(long?)answer["disk_free_limit"]} bytes");
        AdminClient.Table("alarms", "node", "resource")(answer, stdout);
    }
}
