namespace Broker.Actors.Queues;

// Journal events of a queue. Only durable queues journal anything; transient messages never
// reach the journal. Arguments are kept in their AMQP table encoding, a stable storage format.

public sealed record QueueCreated(string VHost, string Name, bool AutoDelete, byte[] Arguments);

public sealed record QueueRemoved(string Name);
