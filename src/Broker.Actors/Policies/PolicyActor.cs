using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Broker.Actors.Cluster;
using Broker.Actors.Persistence;
using Broker.Actors.Topology;

namespace Broker.Actors.Policies;

/// <summary>
/// One policy: a persistent, sharded entity keyed by vhost and name (like an exchange). It journals
/// the policy's definition (only the latest is kept) and replicates it to every node's
/// PolicyTable, answering once every reachable node has it, so a queue declared right after sees
/// it on any node.
/// </summary>
public sealed class PolicyActor : ReceivePersistentActor
{
    private readonly BrokerContext _broker;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _vhost;
    private readonly string _name;
    private Policy? _policy;
    private TopologyVersion _version;

    public PolicyActor(BrokerContext broker, string entityId)
    {
        _broker = broker;
        (_vhost, _name) = EntityIds.Parse(entityId);
        PersistenceId = "policy-" + EntityIds.PersistenceSuffix(_vhost, _name);

        Recover<PolicyDefined>(e => _policy = e.Policy);
        Recover<PolicyCleared>(_ => _policy = null);
        Recover<RecoveryCompleted>(_ =>
        {
            if (_policy is not null)
            {
                _broker.Topology.Replicate(new PolicyChanged(_policy, NextVersion()));
            }
        });

        Command<SetPolicy>(Set);
        Command<ClearPolicy>(_ => Clear());
        Command<Queues.WakeEntity>(_ =>
        {
            Sender.Tell(new Queues.EntityAwake(_policy is not null));
            PassivateIfGone();
        });
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => _log.Warning("policy '{0}': journal cleanup failed: {1}", _name, f.Cause.Message));
        Command<StopEntity>(_ => Context.Stop(Self));
    }

    public override string PersistenceId { get; }

    /// <summary>Without a snapshot (the broker writes none): see JournalOnlyRecovery.</summary>
    public override Recovery Recovery => JournalOnlyRecovery.Instance;

    private void Set(SetPolicy cmd)
    {
        if (cmd.Policy.Validate() is { } invalid)
        {
            Sender.Tell(new PolicyFailed(invalid));
            PassivateIfGone();
            return;
        }

        var replyTo = Sender;
        Persist(new PolicyDefined(cmd.Policy), e =>
        {
            _policy = e.Policy;
            // Only the latest definition matters.
            DeleteMessages(LastSequenceNr - 1);
            _log.Info("Policy '{0}' in vhost '{1}' set: pattern '{2}', apply-to {3}, priority {4}", _name, _vhost, e.Policy.Pattern,
                e.Policy.ApplyTo, e.Policy.Priority);
            BrokerContext.TellWhenDone(_broker.Topology.Replicate(new PolicyChanged(e.Policy, NextVersion())), replyTo, PolicyDone.Instance, Self);
        });
    }

    private void Clear()
    {
        if (_policy is null)
        {
            Sender.Tell(new PolicyFailed($"no policy '{_name}' in vhost '{_vhost}'"));
            PassivateIfGone();
            return;
        }

        var replyTo = Sender;
        Persist(new PolicyCleared(_name), _ =>
        {
            _policy = null;
            DeleteMessages(LastSequenceNr);
            _log.Info("Policy '{0}' in vhost '{1}' cleared", _name, _vhost);
            BrokerContext.TellWhenDone(_broker.Topology.Replicate(new PolicyGone(_vhost, _name, NextVersion())), replyTo, PolicyDone.Instance, Self);
            PassivateIfGone();
        });
    }

    /// <summary>Versions of this incarnation start above whatever an earlier one (on any node) replicated.</summary>
    private TopologyVersion NextVersion()
    {
        return _version = TopologyVersion.NextOf(_version, _broker.Policies.VersionOf(_vhost, _name));
    }

    private void PassivateIfGone()
    {
        if (_policy is null)
        {
            Context.Parent.Tell(new Passivate(StopEntity.Instance));
        }
    }
}

/// <summary>Journal event: the policy's definition (replaces any earlier one).</summary>
public sealed record PolicyDefined(Policy Policy) : Persistence.IJournalEvent;

/// <summary>Journal event: the policy was removed.</summary>
public sealed record PolicyCleared(string Name) : Persistence.IJournalEvent;
