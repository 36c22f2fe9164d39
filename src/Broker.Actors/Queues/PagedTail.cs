namespace Broker.Actors.Queues;

/// <summary>
/// A queue's paged tail on disk: each message encoded whole (PagedMessageCodec) into the queue's
/// PageFile, created on the first message paged. A write that fails (a full or failing disk) is
/// reported once until one succeeds again, and the message stays in memory.
/// </summary>
public sealed class PagedTail(string directory, Action<string> writeFailed) : IPagedTail, IDisposable
{
    private readonly PagedMessageCodec _codec = new();
    private PageFile? _file;
    private bool _failing;

    public bool TryAppend(QueuedMessage message)
    {
        try
        {
            _file ??= new PageFile(directory);
            _file.Append(_codec.Encode(message));
        }
        catch (IOException e)
        {
            if (!_failing)
            {
                writeFailed(e.Message);
            }

            _failing = true;
            return false;
        }

        _failing = false;
        return true;
    }

    public void ReadNext(long maxBytes, List<QueuedMessage> into) =>
        _file!.ReadNext(maxBytes, record => into.Add(_codec.Decode(record)));

    public void Clear() => _file?.Clear();

    /// <summary>The queue is gone (deleted, stopped, moved): its files and folder go.</summary>
    public void Dispose()
    {
        _file?.Dispose();
        _file = null;
    }
}
