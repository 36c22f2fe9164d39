namespace Broker.Actors.Queues;

/// <summary>The windows of the publish and delivery credit flows (see PublishCredit, DeliveryCredit).</summary>
public static class FlowControl
{
    /// <summary>Publishes a channel may have in one queue's mailbox before it stops reading its socket.</summary>
    public const int InitialPublishCredit = 2000;

    /// <summary>A queue grants credit back after working through this many of a channel's publishes.</summary>
    public const int PublishCreditBatch = 500;

    /// <summary>
    /// Ready messages above which a queue that has consumers hands publish credit back only as it
    /// delivers: publishers then go at the consumers' pace instead of starving them of CPU.
    /// </summary>
    public const int BacklogThreshold = 20_000;

    /// <summary>How often a queue holding back publishers checks that its consumers still take messages.</summary>
    public static readonly TimeSpan StallCheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>Deliveries a queue pushes to one consumer ahead of the socket.</summary>
    public const int DeliveryWindow = 2000;

    /// <summary>Bytes waiting for a connection's socket above which channels stop granting delivery credit.</summary>
    public const long OutboundHighWatermark = 8L * 1024 * 1024;
}
