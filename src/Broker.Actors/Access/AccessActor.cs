using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Broker.Actors.Cluster;
using Broker.Actors.Persistence;
using Broker.Actors.Topology;

namespace Broker.Actors.Access;

/// <summary>
/// The cluster's one keeper of users, vhosts and permissions: a persistent, sharded entity (so it
/// lives on one node and moves on failover). Changes are applied in the order they arrive,
/// journaled as the whole new store (older events are deleted) and replicated to every node's
/// AccessTable; the change is answered once every reachable node has it, so a user added through
/// one node logs in on any other right after. The first time a cluster starts (an empty journal)
/// it creates the default user and vhosts from the configuration.
/// </summary>
public sealed class AccessActor : ReceivePersistentActor
{
    public const string EntityId = "access";

    private readonly BrokerContext _broker;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private AccessStore? _store;
    private TopologyVersion _version;

    public AccessActor(BrokerContext broker)
    {
        _broker = broker;
        Recover<AccessDefined>(e => _store = e.Store);
        Recover<RecoveryCompleted>(_ => OnRecovered());
        // Commands wait (Akka.Persistence stashes them) until recovery, and a first store's write, are done.
        Command<EnsureAccess>(_ => Sender.Tell(new AccessStoreChanged(_store!, _version)));
        Command<ChangeAccess>(Change);
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => _log.Warning("access store: journal cleanup failed: {0}", f.Cause.Message));
        Command<StopEntity>(_ => Context.Stop(Self));
    }

    public override string PersistenceId => EntityId;

    /// <summary>Without a snapshot (the broker writes none): see JournalOnlyRecovery.</summary>
    public override Recovery Recovery => JournalOnlyRecovery.Instance;

    private void OnRecovered()
    {
        if (_store is not null)
        {
            _log.Info("Access store recovered: {0} user(s), {1} vhost(s)", _store.Users.Count, _store.VHosts.Count);
            Publish(_store, null);
            return;
        }

        var s = _broker.Settings;
        var initial = AccessStore.Initial(s.DefaultUser, s.DefaultPassword, s.VirtualHosts);
        Persist(new AccessDefined(initial), e =>
        {
            _log.Info("Access store created: user '{0}' (administrator) with every permission on vhost(s) {1}", s.DefaultUser,
                string.Join(", ", s.VirtualHosts.Select(v => $"'{v}'")));
            Publish(e.Store, null);
        });
    }

    private void Change(ChangeAccess cmd)
    {
        AccessStore changed;
        try
        {
            changed = cmd.Change.ApplyTo(_store!);
        }
        catch (AccessChangeRefused refused)
        {
            Sender.Tell(new AccessFailed(refused.Message));
            return;
        }

        var replyTo = Sender;
        Persist(new AccessDefined(changed), e =>
        {
            DeleteMessages(LastSequenceNr - 1);
            _log.Info("Access store: {0}", cmd.Change.Describe());
            Publish(e.Store, replyTo);
        });
    }

    /// <summary>Replicates the store; the asker is answered once every node has it.</summary>
    private void Publish(AccessStore store, IActorRef? replyTo)
    {
        _store = store;
        _version = TopologyVersion.NextOf(_version, _broker.Access.Version);
        var replicated = _broker.Topology.Replicate(new AccessStoreChanged(store, _version));
        if (replyTo is not null)
        {
            BrokerContext.TellWhenDone(replicated, replyTo, AccessDone.Instance, Self);
        }
    }
}
