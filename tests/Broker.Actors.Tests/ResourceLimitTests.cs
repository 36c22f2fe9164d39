using System.Collections.Immutable;
using Broker.Actors.Alarms;

namespace Broker.Actors.Tests;

public class ResourceLimitTests
{
    [Theory]
    [InlineData("50000000", 50_000_000)]
    [InlineData("50MB", 50_000_000)]
    [InlineData("50 MB", 50_000_000)]
    [InlineData("2GB", 2_000_000_000)]
    [InlineData("1kB", 1_000)]
    [InlineData("512MiB", 512L * 1024 * 1024)]
    [InlineData("1.5GiB", 3L * 512 * 1024 * 1024)]
    [InlineData("2G", 2L * 1024 * 1024 * 1024)]
    [InlineData("0", 0)]
    public void Sizes_read_as_RabbitMQ_writes_them(string text, long bytes)
    {
        Assert.True(ByteSize.TryParse(text, out long parsed));
        Assert.Equal(bytes, parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("MB")]
    [InlineData("-1MB")]
    [InlineData("lots")]
    [InlineData("5 PB")]
    [InlineData("99999999999TB")]
    public void A_size_that_is_not_one_is_refused(string text) => Assert.False(ByteSize.TryParse(text, out _));

    [Fact]
    public void A_watermark_up_to_one_is_a_fraction_and_above_it_a_size()
    {
        Assert.True(MemoryWatermark.TryParse("0.4", out var relative));
        Assert.Equal(400, relative.LimitFor(1000));
        Assert.Equal("0.4", relative.ToString());

        Assert.True(MemoryWatermark.TryParse("1", out var whole));
        Assert.Equal(1000, whole.LimitFor(1000));

        Assert.True(MemoryWatermark.TryParse("2GB", out var absolute));
        Assert.Equal(2_000_000_000, absolute.LimitFor(1000));

        Assert.True(MemoryWatermark.TryParse("1073741824", out var bytes));
        Assert.Equal(1L << 30, bytes.LimitFor(1000));
        Assert.Equal("1 GiB", bytes.ToString());

        Assert.False(MemoryWatermark.TryParse("half", out _));
        Assert.False(MemoryWatermark.TryParse("-0.4", out _));
    }

    [Fact]
    public void The_block_reason_names_the_resources_as_RabbitMQ_does()
    {
        Assert.Null(ResourceAlarms.BlockReason(ImmutableArray<NodeAlarm>.Empty));
        Assert.Equal("low on memory", ResourceAlarms.BlockReason([new NodeAlarm("a", AlarmResource.Memory)]));
        Assert.Equal("low on disk", ResourceAlarms.BlockReason([new NodeAlarm("a", AlarmResource.Disk), new NodeAlarm("b", AlarmResource.Disk)]));
        Assert.Equal("low on disk & memory",
            ResourceAlarms.BlockReason([new NodeAlarm("a", AlarmResource.Memory), new NodeAlarm("b", AlarmResource.Disk)]));
    }
}
