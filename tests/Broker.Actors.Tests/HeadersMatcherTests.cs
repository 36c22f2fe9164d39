using System.Text;
using Broker.Actors.Routing;
using Broker.Protocol;

namespace Broker.Actors.Tests;

public class HeadersMatcherTests
{
    private static FieldTable T(params (string Key, object? Value)[] entries)
    {
        var t = new FieldTable();
        foreach (var (k, v) in entries)
        {
            t[k] = v;
        }

        return t;
    }

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void All_requires_every_argument()
    {
        var args = T(("x-match", "all"), ("format", "pdf"), ("type", "report"));
        Assert.True(HeadersMatcher.Matches(args, T(("format", "pdf"), ("type", "report"))));
        Assert.True(HeadersMatcher.Matches(args, T(("format", "pdf"), ("type", "report"), ("extra", 1))));
        Assert.False(HeadersMatcher.Matches(args, T(("format", "pdf"))));
        Assert.False(HeadersMatcher.Matches(args, T(("format", "pdf"), ("type", "log"))));
        Assert.False(HeadersMatcher.Matches(args, new FieldTable()));
    }

    [Fact]
    public void Missing_x_match_means_all()
    {
        var args = T(("format", "pdf"), ("type", "report"));
        Assert.True(HeadersMatcher.Matches(args, T(("format", "pdf"), ("type", "report"))));
        Assert.False(HeadersMatcher.Matches(args, T(("format", "pdf"))));
    }

    [Fact]
    public void Any_requires_one_argument()
    {
        var args = T(("x-match", "any"), ("format", "pdf"), ("type", "report"));
        Assert.True(HeadersMatcher.Matches(args, T(("format", "pdf"))));
        Assert.True(HeadersMatcher.Matches(args, T(("type", "report"), ("format", "zip"))));
        Assert.False(HeadersMatcher.Matches(args, T(("format", "zip"), ("type", "log"))));
        Assert.False(HeadersMatcher.Matches(args, T(("other", "pdf"))));
        Assert.False(HeadersMatcher.Matches(args, new FieldTable()));
    }

    [Fact]
    public void Null_headers_match_only_a_binding_without_arguments_in_all_mode()
    {
        Assert.False(HeadersMatcher.Matches(T(("x-match", "all"), ("a", 1)), null));
        Assert.False(HeadersMatcher.Matches(T(("x-match", "any"), ("a", 1)), null));
        // An all-binding with nothing to compare matches every message, as in RabbitMQ; any matches none.
        Assert.True(HeadersMatcher.Matches(T(("x-match", "all")), null));
        Assert.True(HeadersMatcher.Matches(new FieldTable(), null));
        Assert.False(HeadersMatcher.Matches(T(("x-match", "any")), null));
        Assert.False(HeadersMatcher.Matches(T(("x-match", "any")), T(("a", 1))));
    }

    [Fact]
    public void X_arguments_are_ignored_in_plain_modes()
    {
        // all: the x- argument is not required in the headers.
        Assert.True(HeadersMatcher.Matches(T(("x-match", "all"), ("x-tag", "t"), ("a", 1)), T(("a", 1))));
        // any: a match on an x- argument alone does not count.
        Assert.False(HeadersMatcher.Matches(T(("x-match", "any"), ("x-tag", "t"), ("a", 1)), T(("x-tag", "t"))));
    }

    [Fact]
    public void Any_with_x_counts_x_arguments()
    {
        var args = T(("x-match", "any-with-x"), ("x-tag", "t"), ("a", 1));
        Assert.True(HeadersMatcher.Matches(args, T(("x-tag", "t"))));
        Assert.True(HeadersMatcher.Matches(args, T(("a", 1))));
        Assert.False(HeadersMatcher.Matches(args, T(("x-tag", "u"), ("a", 2))));
    }

    [Fact]
    public void All_with_x_requires_x_arguments_too()
    {
        var args = T(("x-match", "all-with-x"), ("x-tag", "t"), ("a", 1));
        Assert.False(HeadersMatcher.Matches(args, T(("a", 1))));
        Assert.False(HeadersMatcher.Matches(args, T(("x-tag", "t"))));
    }

    /// <summary>
    /// RabbitMQ always drops the x-match argument itself before comparing ("Always delete binding
    /// x-match" in rabbit_exchange_type_headers), also in the -with-x modes: a message does not carry
    /// an x-match header to be routed.
    /// </summary>
    [Fact]
    public void All_with_x_does_not_require_an_x_match_header()
    {
        var args = T(("x-match", "all-with-x"), ("x-tag", "t"), ("a", 1));
        Assert.True(HeadersMatcher.Matches(args, T(("x-tag", "t"), ("a", 1))));
    }

    [Fact]
    public void Any_with_x_does_not_match_on_the_x_match_header()
    {
        var args = T(("x-match", "any-with-x"), ("a", 1));
        Assert.False(HeadersMatcher.Matches(args, T(("x-match", "any-with-x"))));
    }

    [Theory]
    [InlineData(1L)]
    [InlineData((short)1)]
    [InlineData((byte)1)]
    [InlineData(1u)]
    [InlineData((sbyte)1)]
    public void Integers_compare_by_value_across_widths(object headerValue)
    {
        Assert.True(HeadersMatcher.Matches(T(("n", 1)), T(("n", headerValue))));
        Assert.True(HeadersMatcher.Matches(T(("n", headerValue)), T(("n", 1))));
        Assert.False(HeadersMatcher.Matches(T(("n", 2)), T(("n", headerValue))));
    }

    [Fact]
    public void Numbers_do_not_equal_strings()
    {
        Assert.False(HeadersMatcher.Matches(T(("n", 1)), T(("n", "1"))));
        Assert.False(HeadersMatcher.Matches(T(("n", "1")), T(("n", 1L))));
    }

    [Fact]
    public void Strings_and_longstr_bytes_are_equal_by_content()
    {
        Assert.True(HeadersMatcher.Matches(T(("s", "pdf")), T(("s", Utf8("pdf")))));
        Assert.True(HeadersMatcher.Matches(T(("s", Utf8("pdf"))), T(("s", "pdf"))));
        Assert.True(HeadersMatcher.Matches(T(("s", Utf8("pdf"))), T(("s", Utf8("pdf")))));
        Assert.False(HeadersMatcher.Matches(T(("s", "pdf")), T(("s", Utf8("zip")))));
        Assert.False(HeadersMatcher.Matches(T(("s", "pdf")), T(("s", "PDF"))));
    }

    [Fact]
    public void X_match_given_as_longstr_bytes_is_understood()
    {
        var args = T(("x-match", Utf8("any")), ("a", 1), ("b", 2));
        Assert.True(HeadersMatcher.Matches(args, T(("b", 2))));
    }

    [Fact]
    public void Void_argument_matches_on_presence()
    {
        var args = T(("x-match", "all"), ("flag", null));
        Assert.True(HeadersMatcher.Matches(args, T(("flag", "anything"))));
        Assert.True(HeadersMatcher.Matches(args, T(("flag", 7))));
        Assert.False(HeadersMatcher.Matches(args, T(("other", 7))));
    }

    [Fact]
    public void Nested_tables_and_booleans_compare_by_value()
    {
        Assert.True(HeadersMatcher.Matches(T(("b", true)), T(("b", true))));
        Assert.False(HeadersMatcher.Matches(T(("b", true)), T(("b", false))));
        Assert.True(HeadersMatcher.Matches(T(("t", T(("k", 1)))), T(("t", T(("k", 1L))))));
        Assert.False(HeadersMatcher.Matches(T(("t", T(("k", 1)))), T(("t", T(("k", 2))))));
    }

    [Theory]
    [InlineData("all")]
    [InlineData("any")]
    [InlineData("all-with-x")]
    [InlineData("any-with-x")]
    public void Validate_accepts_the_four_modes(string mode)
    {
        HeadersMatcher.Validate(T(("x-match", mode), ("a", 1)));
        HeadersMatcher.Validate(T(("x-match", Utf8(mode))));
    }

    [Fact]
    public void Validate_accepts_a_binding_without_x_match() => HeadersMatcher.Validate(T(("a", 1)));

    [Theory]
    [InlineData("most")]
    [InlineData("ALL")]
    [InlineData("")]
    public void Validate_refuses_other_modes_with_406(string mode)
    {
        var e = Assert.Throws<AmqpException>(() => HeadersMatcher.Validate(T(("x-match", mode))));
        Assert.Equal(406, (int)e.ReplyCode);
        Assert.Contains("x-match", e.ReplyText);
    }

    [Fact]
    public void Validate_refuses_a_non_string_x_match_with_406()
    {
        var e = Assert.Throws<AmqpException>(() => HeadersMatcher.Validate(T(("x-match", 1))));
        Assert.Equal(406, (int)e.ReplyCode);
    }
}
