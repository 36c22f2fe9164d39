using Broker.Actors.Persistence;
using Broker.Actors.Routing;
using Broker.Protocol;

namespace Broker.Actors.Exchanges;

/// <summary>exchange.declare (also used at start-up for the pre-declared amq.* exchanges).</summary>
public sealed record DeclareExchange(ExchangeDefinition Definition, bool Passive) : Cluster.IClusterMessage;

public sealed record ExchangeDeclared(string Name) : Cluster.IClusterMessage;

public sealed record DeleteExchange(bool IfUnused) : Cluster.IClusterMessage;

public sealed record ExchangeDeleted(string Name) : Cluster.IClusterMessage;

/// <summary>queue.bind / exchange.bind, sent to the source exchange; DestinationDurable decides whether it is journaled.</summary>
public sealed record AddBinding(Binding Binding, bool DestinationDurable) : Cluster.IClusterMessage;

public sealed record BindingAdded(Binding Binding) : Cluster.IClusterMessage;

/// <summary>queue.unbind / exchange.unbind, sent to the source exchange.</summary>
public sealed record RemoveBinding(Binding Binding) : Cluster.IClusterMessage;

public sealed record BindingRemoved(Binding Binding) : Cluster.IClusterMessage;

/// <summary>A queue or exchange was deleted: drop every binding to it.</summary>
public sealed record RemoveBindingsTo(string Destination, bool ToExchange) : Cluster.IClusterMessage;

public sealed record BindingsRemoved(string Destination) : Cluster.IClusterMessage;

public sealed record ExchangeCommandFailed(AmqpException Error) : Cluster.IClusterMessage;

// Journal events of a durable exchange. A binding is journaled only when its destination is
// durable too, as in RabbitMQ: a binding to a transient queue does not outlive a restart.

public sealed record ExchangeCreated(string VHost, string Name, string Type, bool AutoDelete, bool Internal, byte[] Arguments)
    : IJournalEvent;

public sealed record ExchangeRemoved(string Name) : IJournalEvent;

public sealed record ExchangeBound(string Destination, bool ToExchange, string RoutingKey, byte[] Arguments) : IJournalEvent;

public sealed record ExchangeUnbound(string Destination, bool ToExchange, string RoutingKey, byte[] Arguments) : IJournalEvent;

/// <summary>Snapshot of a durable exchange: its definition and durable bindings, so old events can be deleted.</summary>
public sealed record ExchangeSnapshot(ExchangeCreated Definition, IReadOnlyList<ExchangeBound> Bindings) : IJournalEvent;
