using Akka.Event;
using Broker.Actors.Policies;

namespace Broker.Actors.Queues;

/// <summary>
/// Policies: the queue's settings are its arguments merged with the policy that matches it
/// (QueueArguments.WithPolicy). The queue listens for policy changes of its node's replica
/// (every node holds every policy; PolicyListeners) and applies the new settings at once.
/// </summary>
public sealed partial class QueueActor
{
    private Policy? _policy;

    protected override void PreStart()
    {
        base.PreStart();
        _broker.Stats.Add(_stats);
        _broker.PolicyListeners.Add(Self);
    }

    private QueueArguments EffectiveArguments(QueueDefinition def)
    {
        _policy = _broker.Policies.For(_vhost, _name, isQueue: true);
        return QueueArguments.Parse(def.Arguments, _vhost, _name, def.QueueType).WithPolicy(_policy, def.Arguments);
    }

    private void ApplyPolicy()
    {
        if (_state is null || _definition is null || ReferenceEquals(_broker.Policies.For(_vhost, _name, isQueue: true), _policy))
        {
            return;
        }

        var arguments = EffectiveArguments(_definition);
        _log.Info("Queue '{0}' in vhost '{1}': policy {2} applies", _name, _vhost, _policy is null ? "(none)" : $"'{_policy.Name}'");
        bool expiresChanged = arguments.Expires != _state.Arguments.Expires;
        _state.Reconfigure(arguments, Tick());
        if (expiresChanged)
        {
            StopExpiryTimer();
            RestartExpiryTimer();
        }
    }
}
