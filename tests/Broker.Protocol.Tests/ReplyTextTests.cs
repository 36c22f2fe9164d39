using Broker.Protocol;

namespace Broker.Protocol.Tests;

/// <summary>A reply text always fits the short string it is sent in.</summary>
public sealed class ReplyTextTests
{
    [Fact]
    public void A_short_text_is_kept_as_it_is()
    {
        Assert.Equal("NOT_FOUND - no queue 'q' in vhost '/'", AmqpException.NotFound("no queue 'q' in vhost '/'").ReplyText);
    }

    [Fact]
    public void A_long_text_is_cut_to_255_bytes_and_still_encodes()
    {
        var e = AmqpException.NotFound($"no queue '{new string('q', 255)}' in vhost '/'");
        Assert.Equal(255, System.Text.Encoding.UTF8.GetByteCount(e.ReplyText));
        Assert.StartsWith("NOT_FOUND - no queue 'qqq", e.ReplyText);
        var w = new AmqpWriter();
        w.WriteShortString(e.ReplyText);
        Assert.Equal(256, w.ToArray().Length);
    }

    [Fact]
    public void A_cut_never_splits_a_character()
    {
        // 'é' is 2 bytes, '😀' 4 (a surrogate pair): the cut lands before a character that does not fit.
        string text = new string('a', 252) + "é😀";
        string fitted = AmqpException.FitShortString(text);
        Assert.Equal(new string('a', 252) + "é", fitted);
        Assert.Equal(254, System.Text.Encoding.UTF8.GetByteCount(fitted));
    }
}
