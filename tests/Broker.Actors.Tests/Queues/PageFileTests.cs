using Broker.Actors.Queues;

namespace Broker.Actors.Tests.Queues;

public sealed class PageFileTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "page-file-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static byte[] Body(int i, int length) => Enumerable.Range(0, length).Select(j => (byte)(i * 31 + j)).ToArray();

    [Fact]
    public void Bodies_come_back_as_written_in_order_out_of_order_and_larger_than_the_read_window()
    {
        using var pages = new PageFile(_dir);
        var sizes = new[] { 0, 1, 100, 4096, 300_000, 17, 1_000_000, 5 };
        var refs = sizes.Select((n, i) => pages.Append(Body(i, n))).ToList();
        Assert.Equal(sizes.Length, pages.Live);

        // Out of order first (a window filled for one must not serve another wrongly), then the rest in order.
        Assert.Equal(Body(6, sizes[6]), pages.Read(refs[6], sizes[6]));
        Assert.Equal(Body(2, sizes[2]), pages.Take(refs[2], sizes[2]));
        for (int i = 0; i < sizes.Length; i++)
        {
            if (i != 2)
            {
                Assert.Equal(Body(i, sizes[i]), pages.Take(refs[i], sizes[i]));
            }
        }

        Assert.Equal(0, pages.Live);
    }

    [Fact]
    public void A_body_still_in_the_writers_buffer_is_readable_and_appends_go_on_after_reads()
    {
        using var pages = new PageFile(_dir);
        var first = pages.Append(Body(1, 10));
        Assert.Equal(Body(1, 10), pages.Take(first, 10));
        var second = pages.Append(Body(2, 10));
        var third = pages.Append(Body(3, 20));
        Assert.Equal(Body(3, 20), pages.Take(third, 20));
        Assert.Equal(Body(2, 10), pages.Take(second, 10));
    }

    [Fact]
    public void A_segment_is_deleted_once_every_body_in_it_was_taken_or_dropped_and_the_folder_with_the_file()
    {
        var pages = new PageFile(_dir, segmentSize: 1000);
        var refs = Enumerable.Range(0, 10).Select(i => pages.Append(Body(i, 400))).ToList(); // two bodies per segment
        Assert.Equal(5, Directory.GetFiles(_dir).Length);

        pages.Drop(refs[0]);
        Assert.Equal(5, Directory.GetFiles(_dir).Length);
        Assert.Equal(Body(1, 400), pages.Take(refs[1], 400));
        Assert.Equal(4, Directory.GetFiles(_dir).Length);
        for (int i = 2; i < 9; i++)
        {
            pages.Drop(refs[i]);
        }

        // The segment being written stays while a body in it is live; once none is, every file goes.
        Assert.Single(Directory.GetFiles(_dir));
        Assert.Equal(Body(9, 400), pages.Take(refs[9], 400));
        Assert.Equal(0, pages.Live);
        Assert.Empty(Directory.GetFiles(_dir));

        var again = pages.Append(Body(11, 300));
        Assert.Equal(Body(11, 300), pages.Take(again, 300));
        pages.Dispose();
        Assert.False(Directory.Exists(_dir));
    }
}
