namespace Broker.Actors.Queues;

/// <summary>
/// Where one queue keeps the bodies it paged out of memory: append-only segment files in a folder
/// of the node's data directory, never fsynced (a cache, not a store: persistent messages are in
/// the journal, and transient ones do not survive a restart anyway). A body is appended when the
/// queue pages it out and read back when it is needed (delivered, got, dead-lettered). Queues take
/// messages in the order they were paged, so reads go through a read-ahead window and most cost no
/// system call; a segment whose bodies were all read back or dropped is deleted.
/// Used by its queue actor only (not thread-safe).
/// </summary>
public sealed class PageFile : IDisposable
{
    private const int SegmentBits = 40;
    private const int WindowSize = 256 << 10;

    private readonly string _directory;
    private readonly long _segmentSize;
    private readonly Dictionary<int, int> _live = new();
    private FileStream? _writer;
    private int _writeSegment = -1;
    private long _writeOffset;

    /// <summary>How much of the write segment is surely in the file (the rest may be in the writer's buffer).</summary>
    private long _flushedOffset;

    private FileStream? _reader;
    private int _readerSegment = -1;
    private readonly byte[] _window = new byte[WindowSize];
    private int _windowSegment = -1;
    private long _windowStart;
    private int _windowLength;

    /// <param name="segmentSize">Bytes per segment file before the next is started (smaller in tests).</param>
    public PageFile(string directory, long segmentSize = 64L << 20)
    {
        _directory = directory;
        _segmentSize = segmentSize;
        Directory.CreateDirectory(directory);
    }

    /// <summary>Bodies written and not yet read back or dropped.</summary>
    public int Live { get; private set; }

    /// <summary>Appends a body; returns where it is (segment and offset in one number).</summary>
    public long Append(ReadOnlySpan<byte> body)
    {
        if (_writer is null || _writeOffset + body.Length > _segmentSize && _writeOffset > 0)
        {
            NextSegment();
        }

        long at = ((long)_writeSegment << SegmentBits) | _writeOffset;
        try
        {
            _writer!.Write(body);
        }
        catch (IOException)
        {
            // What was half written is never read; the next body starts in a new segment.
            _writeOffset = _segmentSize;
            throw;
        }

        _writeOffset += body.Length;
        _live[_writeSegment] = _live.GetValueOrDefault(_writeSegment) + 1;
        Live++;
        return at;
    }

    /// <summary>Reads a body back; it is no longer kept for (the queue holds it in memory again).</summary>
    public byte[] Take(long at, int length)
    {
        var body = Read(at, length);
        Drop(at);
        return body;
    }

    /// <summary>Reads a body and keeps it (the queue needs a copy while the message stays paged out).</summary>
    public byte[] Read(long at, int length)
    {
        int segment = (int)(at >> SegmentBits);
        long offset = at & ((1L << SegmentBits) - 1);
        var body = new byte[length];
        if (length == 0)
        {
            return body;
        }

        if (segment == _writeSegment && offset + length > _flushedOffset)
        {
            // Perhaps still in the writer's buffer: make it readable.
            _writer!.Flush();
            _flushedOffset = _writeOffset;
        }

        if (length > WindowSize)
        {
            ReadAt(segment, offset, body, length);
            return body;
        }

        if (segment != _windowSegment || offset < _windowStart || offset + length > _windowStart + _windowLength)
        {
            _windowSegment = -1;
            _windowLength = ReadAt(segment, offset, _window, length);
            _windowSegment = segment;
            _windowStart = offset;
        }

        _window.AsSpan((int)(offset - _windowStart), length).CopyTo(body);
        return body;
    }

    /// <summary>A paged-out body that will never be read (its message was purged, expired or dropped).</summary>
    public void Drop(long at)
    {
        int segment = (int)(at >> SegmentBits);
        Live--;
        int left = _live[segment] - 1;
        _live[segment] = left;
        if (Live == 0)
        {
            // Nothing paged out any more: every file goes (a drained queue gives its disk space back).
            _writer!.Dispose();
            _writer = null;
            foreach (int s in _live.Keys.ToList())
            {
                DeleteSegment(s);
            }

            return;
        }

        if (left == 0 && segment != _writeSegment)
        {
            DeleteSegment(segment);
        }
    }

    public void Dispose()
    {
        _writer?.Dispose();
        _reader?.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private void DeleteSegment(int segment)
    {
        _live.Remove(segment);
        if (segment == _readerSegment)
        {
            _reader!.Dispose();
            _reader = null;
            _readerSegment = -1;
        }

        if (segment == _windowSegment)
        {
            _windowSegment = -1;
        }

        File.Delete(SegmentPath(segment));
    }

    private void NextSegment()
    {
        if (_writer is not null)
        {
            try
            {
                _writer.Dispose();
            }
            catch (IOException)
            {
                // Its buffer could not be written (a full disk): those bodies' appends already failed.
            }

            if (_live.GetValueOrDefault(_writeSegment) == 0)
            {
                DeleteSegment(_writeSegment);
            }
        }

        _writeSegment++;
        _writeOffset = 0;
        _flushedOffset = 0;
        _writer = new FileStream(SegmentPath(_writeSegment), FileMode.Create, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete,
            64 << 10);
    }

    /// <summary>Reads at least <paramref name="atLeast"/> bytes at the offset (as many as fit, for the window); returns how many.</summary>
    private int ReadAt(int segment, long offset, byte[] into, int atLeast)
    {
        if (segment != _readerSegment)
        {
            _reader?.Dispose();
            _reader = new FileStream(SegmentPath(segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1);
            _readerSegment = segment;
        }

        var handle = _reader!.SafeFileHandle;
        int total = 0;
        while (total < atLeast)
        {
            int n = RandomAccess.Read(handle, into.AsSpan(total), offset + total);
            if (n == 0)
            {
                throw new IOException($"page file {SegmentPath(segment)}: {atLeast} bytes expected at offset {offset}, {total} found");
            }

            total += n;
        }

        return total;
    }

    private string SegmentPath(int segment) => Path.Combine(_directory, $"{segment:D6}.page");
}
