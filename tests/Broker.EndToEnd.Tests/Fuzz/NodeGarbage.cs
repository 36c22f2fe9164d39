using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;

namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>
/// Makes another .NET process run a full, blocking garbage collection, as dotnet-gcdump does: an
/// EventPipe session on the runtime's provider with the GCHeapCollect keyword. Without it a
/// node's memory after a load says more about when its GC last ran than about what it still holds.
/// </summary>
public static class NodeGarbage
{
    private const long GcHeapCollectKeyword = 0x800000;

    public static async Task CollectAsync(int pid)
    {
        var client = new DiagnosticsClient(pid);
        var provider = new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, GcHeapCollectKeyword);
        using var session = await client.StartEventPipeSessionAsync(new[] { provider }, requestRundown: false, circularBufferMB: 16, CancellationToken.None);
        // The collection runs when the session is enabled; what the session streams is not needed, only read off.
        var drain = session.EventStream.CopyToAsync(Stream.Null);
        await session.StopAsync(CancellationToken.None);
        await drain.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
