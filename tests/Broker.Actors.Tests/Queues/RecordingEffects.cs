using Broker.Actors.Queues;

namespace Broker.Actors.Tests.Queues;

/// <summary>Records what a QueueState asks for, in order, so tests can check its decisions without an actor system.</summary>
internal sealed class RecordingEffects : IQueueEffects<string>
{
    public List<QueuedMessage> Accepted { get; } = new();
    public List<(string Tag, string Channel, QueuedMessage Message)> Delivered { get; } = new();
    public List<QueuedMessage> Removed { get; } = new();
    public List<(QueuedMessage Message, DeathReason Reason)> DeadLettered { get; } = new();
    public List<QueuedMessage> Due { get; } = new();
    public List<long> WatermarksNeeded { get; } = new();
    public List<long> ExpiriesDue { get; } = new();

    /// <summary>Every message whose body was asked for, in order.</summary>
    void IQueueEffects<string>.Accepted(QueuedMessage message) => Accepted.Add(message);

    void IQueueEffects<string>.Deliver(Consumer<string> consumer, QueuedMessage message) => Delivered.Add((consumer.Tag, consumer.Channel, message));

    void IQueueEffects<string>.Removed(QueuedMessage message) => Removed.Add(message);

    void IQueueEffects<string>.DeadLettered(QueuedMessage message, DeathReason reason) => DeadLettered.Add((message, reason));

    void IQueueEffects<string>.Due(QueuedMessage message) => Due.Add(message);

    void IQueueEffects<string>.WatermarkNeeded(long id) => WatermarksNeeded.Add(id);

    void IQueueEffects<string>.ExpiryDue(long at) => ExpiriesDue.Add(at);
}
