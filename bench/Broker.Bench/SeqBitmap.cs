using System.Numerics;

namespace Broker.Bench;

/// <summary>
/// Set of non-negative sequence numbers of one producer, as a lazily allocated chunked bitmap.
/// Thread-safe for concurrent <see cref="Set"/> calls (several consumers may read one queue).
/// </summary>
internal sealed class SeqBitmap
{
    private const int ChunkShift = 20;                       // 1M sequence numbers = 128 KiB per chunk
    private const int WordsPerChunk = (1 << ChunkShift) / 64;
    private const long ChunkMask = (1L << ChunkShift) - 1;
    private const int MaxChunks = 1 << 14;                   // 16G sequence numbers
    private readonly ulong[]?[] _chunks = new ulong[]?[MaxChunks];

    public static bool InRange(long seq) => seq >= 0 && (seq >> ChunkShift) < MaxChunks;

    /// <summary>Adds seq; returns false if it was already present.</summary>
    public bool Set(long seq)
    {
        ulong[] chunk = GetChunk((int)(seq >> ChunkShift));
        int word = (int)((seq & ChunkMask) >> 6);
        ulong bit = 1UL << (int)(seq & 63);
        ulong prev = Interlocked.Or(ref chunk[word], bit);
        return (prev & bit) == 0;
    }

    public bool Contains(long seq)
    {
        ulong[]? chunk = Volatile.Read(ref _chunks[seq >> ChunkShift]);
        return chunk is not null && (Volatile.Read(ref chunk[(seq & ChunkMask) >> 6]) & (1UL << (int)(seq & 63))) != 0;
    }

    public long Count()
    {
        long n = 0;
        foreach (ulong[]? c in _chunks)
        {
            if (c is null)
            {
                continue;
            }
            for (int i = 0; i < c.Length; i++)
            {
                n += BitOperations.PopCount(Volatile.Read(ref c[i]));
            }
        }
        return n;
    }

    /// <summary>How many members of this set are missing from <paramref name="other"/>.</summary>
    public long CountMissingFrom(SeqBitmap other)
    {
        long n = 0;
        for (int k = 0; k < MaxChunks; k++)
        {
            ulong[]? mine = Volatile.Read(ref _chunks[k]);
            if (mine is null)
            {
                continue;
            }
            ulong[]? theirs = Volatile.Read(ref other._chunks[k]);
            for (int i = 0; i < mine.Length; i++)
            {
                ulong m = Volatile.Read(ref mine[i]);
                ulong t = theirs is null ? 0 : Volatile.Read(ref theirs[i]);
                n += BitOperations.PopCount(m & ~t);
            }
        }
        return n;
    }

    private ulong[] GetChunk(int k)
    {
        ulong[]? c = Volatile.Read(ref _chunks[k]);
        if (c is not null)
        {
            return c;
        }
        var fresh = new ulong[WordsPerChunk];
        return Interlocked.CompareExchange(ref _chunks[k], fresh, null) ?? fresh;
    }
}
