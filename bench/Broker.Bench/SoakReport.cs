using System.Globalization;

namespace Broker.Bench;

/// <summary>Errors and chaos counters of a soak run, shared by every client, the chaos loop and the summary.</summary>
internal sealed class SoakReport(DateTime started)
{
    private const int MaxKept = 100;
    private readonly List<string> _errors = [];
    private long _errorCount;
    private long _kills;
    private long _resets;
    private long _replacements;

    public long ErrorCount => Interlocked.Read(ref _errorCount);
    public long Kills => Interlocked.Read(ref _kills);

    /// <summary>Kills by RST; the others ended with FIN.</summary>
    public long Resets => Interlocked.Read(ref _resets);

    /// <summary>Clients started after a kill or a failure.</summary>
    public long Replacements => Interlocked.Read(ref _replacements);

    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (_errors)
            {
                return [.. _errors];
            }
        }
    }

    /// <summary>Something the broker should not have done (or a client call that failed): printed at once, and the run fails.</summary>
    public void Error(string message)
    {
        string line = string.Create(CultureInfo.InvariantCulture, $"[{(DateTime.UtcNow - started).TotalSeconds,7:0.0}s] {message}");
        Console.Error.WriteLine("error: " + line);
        Interlocked.Increment(ref _errorCount);
        lock (_errors)
        {
            if (_errors.Count < MaxKept)
            {
                _errors.Add(line);
            }
        }
    }

    public void OnKill(bool reset)
    {
        Interlocked.Increment(ref _kills);
        if (reset)
        {
            Interlocked.Increment(ref _resets);
        }
    }

    public void OnReplacement() => Interlocked.Increment(ref _replacements);
}
