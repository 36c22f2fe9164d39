using System.Text;
using System.Threading.Channels;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Broker.EndToEnd.Tests;

public static class ClientHelpers
{
    public static ReadOnlyMemory<byte> Body(string s) => Encoding.UTF8.GetBytes(s);

    public static string Text(ReadOnlyMemory<byte> body) => Encoding.UTF8.GetString(body.Span);

    /// <summary>Runs an operation expected to close the channel, and returns the reply code the broker sent.</summary>
    public static async Task<ushort> ChannelErrorCode(IChannel channel, Func<Task> operation)
    {
        var ex = await Assert.ThrowsAnyAsync<OperationInterruptedException>(operation);
        Assert.NotNull(ex.ShutdownReason);
        await Wait.Until(() => channel.IsClosed, "channel to close");
        return ex.ShutdownReason!.ReplyCode;
    }

    /// <summary>Runs an operation expected to close the channel, and returns the reply code and text the broker sent.</summary>
    public static async Task<(ushort Code, string Text)> ChannelError(IChannel channel, Func<Task> operation)
    {
        var ex = await Assert.ThrowsAnyAsync<OperationInterruptedException>(operation);
        Assert.NotNull(ex.ShutdownReason);
        await Wait.Until(() => channel.IsClosed, "channel to close");
        return (ex.ShutdownReason!.ReplyCode, ex.ShutdownReason.ReplyText);
    }

    /// <summary>Connects expecting a refusal, and returns the exception of type T inside what the client threw.</summary>
    public static async Task<T> ConnectFailure<T>(ConnectionFactory factory) where T : Exception
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => factory.CreateConnectionAsync());
        return FindInner<T>(ex) ?? throw new Xunit.Sdk.XunitException($"expected {typeof(T).Name} inside {ex}");
    }

    public static T? FindInner<T>(Exception ex) where T : Exception
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is T found)
            {
                return found;
            }
        }

        return null;
    }

    /// <summary>Collects deliveries of one consumer into a channel the test reads with a bound.</summary>
    public static async Task<(string Tag, Channel<BasicDeliverEventArgs> Deliveries)> ConsumeAsync(
        IChannel channel, string queue, bool autoAck = false, string tag = "", bool exclusive = false)
    {
        var deliveries = System.Threading.Channels.Channel.CreateUnbounded<BasicDeliverEventArgs>();
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, ea) =>
        {
            // Copy the body: the client reuses its buffer after the handler returns.
            var copy = new BasicDeliverEventArgs(ea.ConsumerTag, ea.DeliveryTag, ea.Redelivered, ea.Exchange,
                ea.RoutingKey, ea.BasicProperties, ea.Body.ToArray());
            deliveries.Writer.TryWrite(copy);
            return Task.CompletedTask;
        };
        string actual = await channel.BasicConsumeAsync(queue, autoAck, tag, false, exclusive, null, consumer);
        return (actual, deliveries);
    }

    public static async Task<BasicDeliverEventArgs> NextAsync(this Channel<BasicDeliverEventArgs> deliveries, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Wait.Default);
        return await deliveries.Reader.ReadAsync(cts.Token);
    }

    /// <summary>True when nothing arrives within a short window (used only to check that something did NOT happen).</summary>
    public static async Task<bool> NothingWithin(this Channel<BasicDeliverEventArgs> deliveries, TimeSpan window)
    {
        using var cts = new CancellationTokenSource(window);
        try
        {
            await deliveries.Reader.WaitToReadAsync(cts.Token);
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    public static string UniqueName(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];
}
