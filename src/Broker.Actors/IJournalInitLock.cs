namespace Broker.Actors;

/// <summary>Serialises journal table creation between nodes that start together (see Broker.Node's PostgresInitLock).</summary>
public interface IJournalInitLock
{
    /// <summary>Waits for the lock; disposing the result releases it.</summary>
    Task<IAsyncDisposable> AcquireAsync(CancellationToken ct);
}
