namespace Broker.Actors.Persistence;

/// <summary>
/// Marks what queue and exchange actors write to the journal. Events are a storage format: they
/// are written by <see cref="JournalEventSerializer"/> in a compact binary form with short,
/// stable manifests, never by the default (JSON) serializer.
/// </summary>
public interface IJournalEvent
{
}
