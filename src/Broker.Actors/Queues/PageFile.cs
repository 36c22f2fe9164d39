using System.Buffers.Binary;

namespace Broker.Actors.Queues;

/// <summary>
/// Where one queue keeps the tail of its ready messages while they are out of memory: a log of
/// records (each one whole message, see PagedMessageCodec) in append-only segment files in a folder
/// of the node's data directory, never fsynced (a cache, not a store: persistent messages are in
/// the journal, and transient ones do not survive a restart anyway). Records are read back in the
/// order they were written, a batch at a time through one large buffered read, and a segment is
/// deleted as soon as the reader has gone past it.
/// Used by its queue actor only (not thread-safe).
/// </summary>
public sealed class PageFile : IDisposable
{
    private const int WriteBuffer = 64 << 10;
    private const int ReadBuffer = 1 << 20;

    private readonly string _directory;
    private readonly long _segmentSize;

    private FileStream? _writer;
    private int _writeSegment = -1;

    /// <summary>Bytes of whole records in the write segment.</summary>
    private long _writeOffset;

    /// <summary>An append to the write segment failed: the next goes to a new one.</summary>
    private bool _writeFailed;

    /// <summary>Where the whole records of each finished segment end (a failed append may have left bytes after).</summary>
    private readonly Dictionary<int, long> _segmentEnds = new();

    private FileStream? _reader;
    private int _readSegment;
    private long _readOffset;
    private readonly byte[] _lengthBuffer = new byte[4];
    private byte[] _record = new byte[4096];

    /// <param name="segmentSize">Bytes per segment file before the next is started (smaller in tests).</param>
    public PageFile(string directory, long segmentSize = 64L << 20)
    {
        _directory = directory;
        _segmentSize = segmentSize;
        Directory.CreateDirectory(directory);
    }

    /// <summary>Takes one record read back; the span is valid during the call only.</summary>
    public delegate void RecordAction(ReadOnlySpan<byte> record);

    /// <summary>Records written and not yet read back.</summary>
    public int Count { get; private set; }

    /// <summary>
    /// Appends one record. On an IOException (a full disk) nothing of it counts: the writer moves to
    /// a new segment, so a half-written record is never read.
    /// </summary>
    public void Append(ReadOnlySpan<byte> record)
    {
        if (_writer is null || _writeFailed || _writeOffset > 0 && _writeOffset + 4 + record.Length > _segmentSize)
        {
            NextSegment();
        }

        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(length, record.Length);
        try
        {
            _writer!.Write(length);
            _writer.Write(record);
        }
        catch (IOException)
        {
            _writeFailed = true;
            throw;
        }

        _writeOffset += 4 + record.Length;
        Count++;
    }

    /// <summary>
    /// Reads the next records, oldest first, until about <paramref name="maxBytes"/> were read (at
    /// least one record, if there is any), handing each to <paramref name="record"/>. Returns how
    /// many were read.
    /// </summary>
    public int ReadNext(long maxBytes, RecordAction record)
    {
        // Every record asked for was appended before this call: one flush makes them all readable.
        _writer?.Flush();
        int n = 0;
        long read = 0;
        while (Count > 0 && (n == 0 || read < maxBytes))
        {
            var reader = Reader();
            ReadExactly(reader, _lengthBuffer);
            int length = BinaryPrimitives.ReadInt32LittleEndian(_lengthBuffer);
            if (_record.Length < length)
            {
                _record = new byte[length];
            }

            ReadExactly(reader, _record.AsSpan(0, length));
            _readOffset += 4 + length;
            Count--;
            n++;
            read += 4 + length;
            record(_record.AsSpan(0, length));
        }

        if (Count == 0)
        {
            // Everything was read: the files go, and the next append starts afresh.
            Reset();
        }

        return n;
    }

    /// <summary>Drops every record (the queue was purged of them or is going away); the folder stays.</summary>
    public void Clear() => Reset();

    public void Dispose()
    {
        Reset();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <summary>The reader, positioned at the next record: past the end of a finished segment it moves to the next one and deletes the old.</summary>
    private FileStream Reader()
    {
        while (_segmentEnds.TryGetValue(_readSegment, out long end) && _readOffset >= end)
        {
            _reader?.Dispose();
            _reader = null;
            _segmentEnds.Remove(_readSegment);
            File.Delete(SegmentPath(_readSegment));
            _readSegment++;
            _readOffset = 0;
        }

        if (_reader is null)
        {
            _reader = new FileStream(SegmentPath(_readSegment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, ReadBuffer);
            _reader.Position = _readOffset;
        }

        return _reader;
    }

    private static void ReadExactly(FileStream reader, Span<byte> into)
    {
        try
        {
            reader.ReadExactly(into);
        }
        catch (EndOfStreamException)
        {
            throw new IOException($"page file {reader.Name}: a record ends past the end of the file");
        }
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
                // Its buffer could not be written (a full disk): those records' appends already failed.
            }

            _segmentEnds[_writeSegment] = _writeOffset;
            _writer = null;
        }

        // The segment counts only once its file exists (creating it may fail on a full disk; the next append tries again).
        var writer = new FileStream(SegmentPath(_writeSegment + 1), FileMode.Create, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, WriteBuffer);
        _writeSegment++;
        _writeOffset = 0;
        _writeFailed = false;
        _writer = writer;
    }

    private void Reset()
    {
        _writer?.Dispose();
        _reader?.Dispose();
        _writer = null;
        _reader = null;
        for (int s = _readSegment; s <= _writeSegment; s++)
        {
            File.Delete(SegmentPath(s));
        }

        _segmentEnds.Clear();
        _writeSegment = -1;
        _writeOffset = 0;
        _writeFailed = false;
        _readSegment = 0;
        _readOffset = 0;
        Count = 0;
    }

    private string SegmentPath(int segment) => Path.Combine(_directory, $"{segment:D6}.page");
}
