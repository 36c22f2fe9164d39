using System.Globalization;

namespace Broker.Bench;

/// <summary>
/// Kills a random connected client every so often (each wait drawn between half and one and a
/// half times --kill-every): its TCP connection ends without an AMQP close, by RST or by FIN,
/// also at random. The slot then starts a replacement.
/// </summary>
internal sealed class ChaosLoop(IReadOnlyList<ClientSlot> slots, double killEvery, Func<double> random, SoakReport report, DateTime started)
{
    public async Task RunAsync(CancellationToken stop)
    {
        if (killEvery <= 0)
        {
            return;
        }
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(killEvery * (0.5 + random())), stop).ConfigureAwait(false);
                SoakClient[] live = slots.Select(s => s.Live).OfType<SoakClient>().ToArray();
                if (live.Length == 0)
                {
                    continue;
                }
                SoakClient victim = live[Math.Min(live.Length - 1, (int)(random() * live.Length))];
                bool reset = random() < 0.5;
                victim.Kill(reset);
                report.OnKill(reset);
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{(DateTime.UtcNow - started).TotalSeconds,7:0.0}s] kill {victim.Name} ({(reset ? "RST" : "FIN")})"));
            }
        }
        catch (OperationCanceledException)
        {
            // the load phase ended: no more kills during the drain
        }
    }
}
