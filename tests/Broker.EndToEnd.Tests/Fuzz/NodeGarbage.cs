using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;

namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>
/// Makes another .NET process run a full, blocking garbage collection, as dotnet-gcdump does: an
/// EventPipe session on the runtime's provider with the GCHeapCollect keyword. Without it a
/// node's memory after a load says more about when its GC last ran than about what it still holds.
/// </summary>
public static class NodeGarbage
{
    private const long GcKeyword = 0x1;
    private const long GcHeapCollectKeyword = 0x800000;

    /// <summary>
    /// Runs the collection and returns the bytes of managed objects that survived it: what the
    /// process still references. Its resident memory is a poorer measure of that: after a burst
    /// the GC gives the memory it no longer needs back to the system only over the following
    /// collections (tens of MiB, differing from run to run).
    /// </summary>
    public static async Task<long> CollectAsync(int pid)
    {
        var client = new DiagnosticsClient(pid);
        var provider = new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, GcKeyword | GcHeapCollectKeyword);
        using var session = await client.StartEventPipeSessionAsync(new[] { provider }, requestRundown: false, circularBufferMB: 16, CancellationToken.None);
        // The collection runs when the session is enabled; its events are in the stream once the session stops.
        long live = -1;
        var parse = Task.Run(() =>
        {
            using var source = new EventPipeEventSource(session.EventStream);
            bool full = false;
            source.Clr.GCStart += e => full = e.Depth == 2;
            source.Clr.GCHeapStats += e =>
            {
                if (full)
                {
                    // After a full collection everything promoted is everything alive.
                    live = e.TotalPromoted;
                }
            };
            source.Process();
        });
        await session.StopAsync(CancellationToken.None);
        await parse.WaitAsync(TimeSpan.FromSeconds(30));
        return live >= 0 ? live : throw new InvalidOperationException($"process {pid} reported no full garbage collection");
    }
}
