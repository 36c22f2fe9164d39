using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Broker.Actors.Alarms;

namespace Broker.Actors.Channel;

/// <summary>
/// The admin endpoint's alarm commands (rabbitmqctl's list alarms, set_vm_memory_high_watermark and
/// set_disk_free_limit): a limit is this node's, so it is changed on the node the command reached;
/// the alarms listed are the cluster's. A new limit is measured against at once.
/// </summary>
public sealed partial class ChannelActor
{
    private void RunAlarmCommand(JsonObject command, Action<JsonObject> answer)
    {
        var alarms = _broker.Alarms;
        string value = (string?)command["value"] ?? string.Empty;
        switch ((string?)command["command"])
        {
            case "set_vm_memory_high_watermark":
                if (!MemoryWatermark.TryParse(value, out var watermark))
                {
                    answer(Failure($"'{value}' is neither a fraction from 0 to 1 nor a size such as 2GB or 1536MiB"));
                    return;
                }

                alarms.SetMemoryWatermark(watermark);
                _log.Warning("channel {0} of connection {1}: memory high watermark of node {2} set to {3} ({4}) by user '{5}'", _number,
                    _connection.ConnectionId, _broker.Settings.NodeName, watermark, ByteSize.Format(alarms.MemoryLimit), _connection.User);
                break;
            case "set_disk_free_limit":
                if (!ByteSize.TryParse(value, out long bytes))
                {
                    answer(Failure($"'{value}' is not a size such as 50MB, 2GiB or a number of bytes"));
                    return;
                }

                alarms.SetDiskFreeLimit(bytes);
                _log.Warning("channel {0} of connection {1}: disk free limit of node {2} set to {3} by user '{4}'", _number,
                    _connection.ConnectionId, _broker.Settings.NodeName, ByteSize.Format(bytes), _connection.User);
                break;
        }

        // Answered once the monitor has measured against the new limit, with what is in effect then.
        Context.System.ActorSelection("/user/" + AlarmMonitorActor.ActorName)
            .Ask<AlarmsChanged>(CheckResources.Instance, AdminTimeout)
            .ContinueWith(t => answer(t.IsCompletedSuccessfully
                ? new JsonObject
                {
                    ["ok"] = true,
                    ["node"] = _broker.Settings.NodeName,
                    ["memory_high_watermark"] = alarms.MemoryWatermark.ToString(),
                    ["memory_limit"] = alarms.MemoryLimit,
                    ["disk_free_limit"] = alarms.DiskFreeLimit,
                    ["alarms"] = new JsonArray(t.Result.Alarms.Select(a => (JsonNode?)new JsonObject
                    {
                        ["node"] = a.Node,
                        ["resource"] = AlarmMonitorActor.Describe(a.Resource),
                    }).ToArray()),
                }
                : Failure($"the node's alarm monitor did not answer: {t.Exception?.GetBaseException().Message ?? "cancelled"}")),
                TaskScheduler.Default);
    }
}
