using Broker.Actors.Queues;
using Broker.Protocol;

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

    private static byte[] Record(int i, int length) => Enumerable.Range(0, length).Select(j => (byte)(i * 31 + j)).ToArray();

    private static List<byte[]> ReadNext(PageFile pages, long maxBytes)
    {
        var records = new List<byte[]>();
        pages.ReadNext(maxBytes, r => records.Add(r.ToArray()));
        return records;
    }

    [Fact]
    public void Records_come_back_in_order_in_batches_of_about_the_size_asked_for_including_ones_larger_than_the_read_buffer()
    {
        using var pages = new PageFile(_dir);
        var sizes = new[] { 0, 1, 100, 4096, 300_000, 17, 3_000_000, 5 };
        for (int i = 0; i < sizes.Length; i++)
        {
            pages.Append(Record(i, sizes[i]));
        }

        Assert.Equal(sizes.Length, pages.Count);
        // 4 + 0, 4 + 1, 4 + 100 bytes: under 200; the fourth (4 + 4096) takes the batch over it.
        var first = ReadNext(pages, 200);
        Assert.Equal(4, first.Count);
        // At least one record, however small the batch.
        var second = ReadNext(pages, 1);
        Assert.Single(second);
        var rest = ReadNext(pages, long.MaxValue);
        var all = first.Concat(second).Concat(rest).ToList();
        Assert.Equal(sizes.Length, all.Count);
        for (int i = 0; i < sizes.Length; i++)
        {
            Assert.Equal(Record(i, sizes[i]), all[i]);
        }

        Assert.Equal(0, pages.Count);
        Assert.Empty(ReadNext(pages, long.MaxValue));
    }

    [Fact]
    public void A_record_still_in_the_writers_buffer_is_readable_and_appends_go_on_after_reads()
    {
        using var pages = new PageFile(_dir);
        pages.Append(Record(1, 10));
        Assert.Equal(Record(1, 10), Assert.Single(ReadNext(pages, 1)));
        pages.Append(Record(2, 10));
        pages.Append(Record(3, 20));
        Assert.Equal(Record(2, 10), Assert.Single(ReadNext(pages, 1)));
        pages.Append(Record(4, 30));
        Assert.Equal([Record(3, 20), Record(4, 30)], ReadNext(pages, long.MaxValue));
    }

    [Fact]
    public void A_segment_is_deleted_once_the_reader_is_past_it_and_every_file_once_all_was_read_or_cleared()
    {
        var pages = new PageFile(_dir, segmentSize: 1000);
        for (int i = 0; i < 10; i++)
        {
            pages.Append(Record(i, 400)); // two records per segment
        }

        Assert.Equal(5, Directory.GetFiles(_dir).Length);
        Assert.Equal(3, ReadNext(pages, 1000).Count);
        // The first segment was read through; the reader is in the second.
        Assert.Equal(4, Directory.GetFiles(_dir).Length);
        Assert.Equal(Record(3, 400), Assert.Single(ReadNext(pages, 1)));
        Assert.Equal(Record(4, 400), Assert.Single(ReadNext(pages, 1)));
        Assert.Equal(3, Directory.GetFiles(_dir).Length);

        pages.Clear();
        Assert.Equal(0, pages.Count);
        Assert.Empty(Directory.GetFiles(_dir));

        pages.Append(Record(11, 300));
        Assert.Equal(Record(11, 300), Assert.Single(ReadNext(pages, 1)));
        Assert.Empty(Directory.GetFiles(_dir));
        pages.Dispose();
        Assert.False(Directory.Exists(_dir));
    }

    [Fact]
    public void A_paged_message_comes_back_whole_and_consecutive_ones_share_their_names_and_properties()
    {
        var codec = new PagedMessageCodec();
        var p = new BasicProperties { DeliveryMode = 2, Priority = 7, Expiration = "6000", Headers = new FieldTable { ["k"] = "v" } };
        var raw = ContentHeader.EncodeProperties(p);
        var original = new QueuedMessage(42, new Message("amq.direct", "orders.é", p, raw, [1, 2, 3]), redelivered: true, expiresAt: 1234567)
        {
            ReturnCount = 3,
        };

        var first = codec.Decode(codec.Encode(original).ToArray());
        var second = codec.Decode(codec.Encode(new QueuedMessage(43, original.Message)).ToArray());

        Assert.Equal((42L, true, 3, 1234567L), (first.Id, first.Redelivered, first.ReturnCount, first.ExpiresAt));
        var m = first.Message;
        Assert.Equal(("amq.direct", "orders.é", (byte)2, (byte?)7, "6000"), (m.Exchange, m.RoutingKey, m.DeliveryMode, m.Priority, m.Expiration));
        Assert.Equal(raw, m.RawProperties);
        Assert.Equal(new byte[] { 1, 2, 3 }, m.Body);
        Assert.True(m.Properties.Headers!.ContainsKey("k"));

        Assert.Equal((43L, false, 0, 0L), (second.Id, second.Redelivered, second.ReturnCount, second.ExpiresAt));
        Assert.Same(m.Exchange, second.Message.Exchange);
        Assert.Same(m.RawProperties, second.Message.RawProperties);
        Assert.Same(m.Expiration, second.Message.Expiration);

        var bare = codec.Decode(codec.Encode(new QueuedMessage(44, new Message("", "q", new BasicProperties(), [], []))).ToArray()).Message;
        Assert.Equal((0, (byte?)null, (string?)null, 0), (bare.DeliveryMode, bare.Priority, bare.Expiration, bare.Body.Length));
    }
}
