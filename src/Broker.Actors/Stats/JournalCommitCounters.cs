using Akka.Actor;

namespace Broker.Actors.Stats;

/// <summary>
/// What the node's journal commits carry (group commit: how many rows and bytes one transaction,
/// one fsync, takes), counted by the journal's writer thread and exported on /metrics. An actor
/// system extension because the journal plugin is created by Akka, not by the broker.
/// </summary>
public sealed class JournalCommitCounters : IExtension
{
    public long Commits;
    public long Rows;
    public long Bytes;

    /// <summary>Called by the one writer thread; read by any thread.</summary>
    public void Committed(int rows, int bytes)
    {
        Interlocked.Increment(ref Commits);
        Interlocked.Add(ref Rows, rows);
        Interlocked.Add(ref Bytes, bytes);
    }

    public static JournalCommitCounters For(ActorSystem system) => system.WithExtension<JournalCommitCounters, Provider>();

    private sealed class Provider : ExtensionIdProvider<JournalCommitCounters>
    {
        public override JournalCommitCounters CreateExtension(ExtendedActorSystem system) => new();
    }
}
