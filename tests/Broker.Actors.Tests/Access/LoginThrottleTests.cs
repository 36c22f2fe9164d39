using System.Net;
using Broker.Actors.Connection;

namespace Broker.Actors.Tests.Access;

public sealed class LoginThrottleTests
{
    private static readonly IPEndPoint A = new(IPAddress.Parse("192.0.2.1"), 1000);
    private static readonly IPEndPoint B = new(IPAddress.Parse("192.0.2.2"), 1000);

    [Fact]
    public void After_a_few_failures_each_answer_waits_longer_up_to_the_cap()
    {
        var throttle = new LoginThrottle();
        var delays = new List<double>();
        for (int i = 0; i < 10; i++)
        {
            throttle.Failed(A, "u");
            delays.Add(throttle.DelayFor(A, "u").TotalSeconds);
        }

        Assert.Equal([0, 0, 0, 1, 2, 4, 8, 8, 8, 8], delays);
        // Another user from that address, and the user from another address, are not slowed by it.
        Assert.Equal(TimeSpan.Zero, throttle.DelayFor(A, "other"));
        Assert.Equal(TimeSpan.Zero, throttle.DelayFor(B, "u"));
        Assert.Equal(1, throttle.Failed(B, "u"));
    }

    [Fact]
    public void A_success_does_not_reset_it_so_a_hit_is_held_back_like_a_miss()
    {
        var throttle = new LoginThrottle();
        for (int i = 0; i < 5; i++)
        {
            throttle.Failed(A, "u");
        }

        // Asking for the delay (what a successful login does) leaves the count as it is.
        Assert.Equal(TimeSpan.FromSeconds(2), throttle.DelayFor(A, "u"));
        Assert.Equal(TimeSpan.FromSeconds(2), throttle.DelayFor(A, "u"));
        Assert.Equal(6, throttle.Failed(A, "u"));
    }

    [Fact]
    public void An_ipv6_client_is_counted_by_its_64_prefix()
    {
        var throttle = new LoginThrottle();
        for (int i = 1; i <= 4; i++)
        {
            throttle.Failed(new IPEndPoint(IPAddress.Parse($"2001:db8:1:2::{i}"), 1000), "u");
        }

        Assert.Equal(TimeSpan.FromSeconds(1), throttle.DelayFor(new IPEndPoint(IPAddress.Parse("2001:db8:1:2::99"), 1000), "u"));
        Assert.Equal(TimeSpan.Zero, throttle.DelayFor(new IPEndPoint(IPAddress.Parse("2001:db8:1:3::1"), 1000), "u"));
    }
}
