using System.Net;
using Broker.Actors.Connection;

namespace Broker.Actors.Tests.Access;

public sealed class LoginThrottleTests
{
    private static readonly IPEndPoint A = new(IPAddress.Parse("192.0.2.1"), 1000);
    private static readonly IPEndPoint B = new(IPAddress.Parse("192.0.2.2"), 1000);

    [Fact]
    public void The_first_failures_are_answered_at_once_then_each_further_one_waits_longer_up_to_the_cap()
    {
        var throttle = new LoginThrottle();
        var delays = Enumerable.Range(0, 10).Select(_ => throttle.Failed(A, out _).TotalSeconds).ToList();
        Assert.Equal([0, 0, 0, 1, 2, 4, 8, 8, 8, 8], delays);
        // Another address is not slowed by it.
        Assert.Equal(TimeSpan.Zero, throttle.Failed(B, out int failures));
        Assert.Equal(1, failures);
    }

    [Fact]
    public void A_successful_login_starts_afresh()
    {
        var throttle = new LoginThrottle();
        for (int i = 0; i < 5; i++)
        {
            throttle.Failed(A, out _);
        }

        throttle.Succeeded(A);
        Assert.Equal(TimeSpan.Zero, throttle.Failed(A, out int failures));
        Assert.Equal(1, failures);
    }
}
