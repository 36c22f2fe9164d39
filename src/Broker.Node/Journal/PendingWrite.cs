using System.Collections.Immutable;

namespace Broker.Node.Journal;

/// <summary>
/// The rows of one journal write request (one persistent actor's WriteMessages), waiting for the
/// writer thread. It completes after the commit that carried it, with the request's rejections.
/// </summary>
/// <param name="inlineCompletion">
/// A write's completion runs on the writer thread itself: what waits on it only hands the results
/// to Akka's resequencer, and a thread-pool hop would add latency to every confirm. Anything else
/// waiting (a recovery's barrier, which then queries the database) must not hold up the writer.
/// </param>
internal sealed class PendingWrite(IReadOnlyList<JournalRecord> rows, IImmutableList<Exception>? rejections, bool inlineCompletion = true)
{
    private readonly TaskCompletionSource<IImmutableList<Exception>?> _done =
        new(inlineCompletion ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<JournalRecord> Rows { get; } = rows;

    /// <summary>When the request was queued (Stopwatch ticks): a slow write reports how long it waited.</summary>
    public long QueuedAt { get; } = System.Diagnostics.Stopwatch.GetTimestamp();

    public int Bytes { get; } = SumOfMessages(rows);

    public Task<IImmutableList<Exception>?> Task => _done.Task;

    public void Written() => _done.TrySetResult(rejections);

    public void Failed(Exception cause) => _done.TrySetException(cause);

    private static int SumOfMessages(IReadOnlyList<JournalRecord> rows)
    {
        int bytes = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            bytes += rows[i].Message.Length;
        }

        return bytes;
    }
}
