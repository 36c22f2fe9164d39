namespace Broker.EndToEnd.Tests;

/// <summary>Waiting on conditions with a bound, never for a fixed time.</summary>
public static class Wait
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(10);

    public static async Task<T> For<T>(Task<T> task, TimeSpan? timeout = null) => await task.WaitAsync(timeout ?? Default);

    public static async Task For(Task task, TimeSpan? timeout = null) => await task.WaitAsync(timeout ?? Default);

    /// <summary>Polls a condition until it holds or the bound passes; fails the test on timeout.</summary>
    public static async Task Until(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Default);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Polls an asynchronous condition (a broker round trip) until it holds or the bound passes.</summary>
    public static async Task Until(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Default);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(50);
        }
    }
}
