using Akka.Actor;
using Akka.Event;
using Broker.Actors.Routing;

namespace Broker.Actors.Queues;

/// <summary>
/// Forwarding a message to an exchange on the queue's behalf. Dead-lettering: a message the state gave up (rejected, expired, pushed out by a limit, over its
/// delivery limit) is marked with x-death and published to the dead-letter exchange. A journaled
/// message leaves this queue's journal only once every queue it was routed to confirmed it (is in
/// that queue's journal), so a crash in between never loses it: at worst it is in both. A target
/// that refuses it or does not answer is tried again every second. Delayed messages that fall due
/// (DelayedMessages) go out the same way.
/// </summary>
public sealed partial class QueueActor
{
    private static readonly TimeSpan DeadLetterRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan DeadLetterTimeout = TimeSpan.FromSeconds(5);

    private readonly Dictionary<long, DeadLetterInFlight> _deadLettersInFlight = new();
    private readonly List<string> _deadLetterRoute = new();
    private RouteScratch? _deadLetterScratch;
    private long _lastDeadLetterId;

    private void DeadLetter(QueuedMessage m, DeathReason reason)
    {
        var args = _state!.Arguments;
        string routingKey = args.DeadLetterRoutingKey ?? m.Message.RoutingKey;
        var marked = DeadLetterHeaders.Mark(m.Message, reason, _name, DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            args.DeadLetterExchange!, routingKey);
        Forward(m, marked, attempts: 0);
    }

    /// <summary>A delayed message fell due: routed through its exchange as published, with the same guarantee.</summary>
    private void ReleaseDelayed(QueuedMessage m)
    {
        var message = m.Message;
        if (_state!.Arguments.DelayFor is { } exchange && message.Exchange != exchange)
        {
            // Always through the exchange this queue holds messages for.
            message = message.WithExchange(exchange);
        }

        Forward(m, message, attempts: 0);
    }

    /// <summary>
    /// Routes a copy of a message through the copy's exchange and sends it to the queues it reaches
    /// (a dead-letter, or a delayed message that fell due). A journaled source leaves the journal
    /// once they all confirmed; when nothing takes the copy it is dropped (as in RabbitMQ) and the
    /// source leaves the journal at once.
    /// </summary>
    private void Forward(QueuedMessage source, Message marked, int attempts)
    {
        // A message refused by reject-publish-dlx (id 0) never entered the journal.
        bool confirm = Durable && source.Message.Persistent && source.Id != 0;
        _deadLetterRoute.Clear();
        if (marked.Exchange.Length == 0)
        {
            // Never into a delay queue: its messages are routed through its exchange when released.
            if (!DelayedMessages.IsHidden(marked.RoutingKey))
            {
                _deadLetterRoute.Add(marked.RoutingKey);
            }
        }
        else if (_broker.Routes.Find(_vhost, marked.Exchange) is { } exchange)
        {
            _broker.Routes.Route(_vhost, exchange, marked.RoutingKey, marked.Properties.Headers, _deadLetterRoute,
                _deadLetterScratch ??= new RouteScratch());
        }
        else
        {
            _log.Debug("queue '{0}' in vhost '{1}': exchange '{2}' does not exist; message dropped", _name, _vhost, marked.Exchange);
        }

        long confirmId = confirm ? ++_lastDeadLetterId : 0;
        int sent = 0;
        foreach (var name in _deadLetterRoute)
        {
            // Cycle detection is for dead-letters; a delayed message (this queue a delay queue) goes where it routes.
            if (_broker.Queues.Find(_vhost, name) is not { } target ||
                (_state?.Arguments.DelayFor is null && DeadLetterHeaders.IsCycle(marked, name)))
            {
                continue;
            }

            if (!target.Available && confirm)
            {
                // Its node is gone or it is moving: counted as unconfirmed, so the whole copy is sent again.
                sent++;
                continue;
            }

            target.Ref.Tell(new Publish(marked, confirmId));
            sent++;
        }

        if (sent == 0)
        {
            JournalRemove(source);
        }
        else if (confirm)
        {
            _deadLettersInFlight[confirmId] = new DeadLetterInFlight(source, marked, sent, Environment.TickCount64, attempts);
            if (!Timers.IsTimerActive("dead-letter-retry"))
            {
                Timers.StartPeriodicTimer("dead-letter-retry", DeadLetterRetryTick.Instance, DeadLetterRetry);
            }
        }
    }

    private void OnDeadLetterConfirmed(Enqueued confirmed)
    {
        if (!_deadLettersInFlight.TryGetValue(confirmed.ConfirmId, out var inFlight))
        {
            return;
        }

        if (--inFlight.Remaining == 0)
        {
            _deadLettersInFlight.Remove(confirmed.ConfirmId);
            JournalRemove(inFlight.Source);
        }
    }

    private void OnDeadLetterFailed(EnqueueFailed failed)
    {
        if (_deadLettersInFlight.TryGetValue(failed.ConfirmId, out var inFlight))
        {
            if (inFlight.Attempts == 0)
            {
                _log.Warning("queue '{0}' in vhost '{1}': a dead-letter target refused message {2} ({3}); it stays here and is tried again every {4} s",
                    _name, _vhost, inFlight.Source.Id, failed.Reason, DeadLetterRetry.TotalSeconds);
            }

            inFlight.Failed = true;
        }
    }

    /// <summary>Sends again what a target refused or did not confirm in time (at least once: a target may get it twice).</summary>
    private void RetryDeadLetters()
    {
        long now = Environment.TickCount64;
        foreach (var (id, inFlight) in _deadLettersInFlight.ToList())
        {
            if (!inFlight.Failed && now - inFlight.SentAt < DeadLetterTimeout.TotalMilliseconds)
            {
                continue;
            }

            _deadLettersInFlight.Remove(id);
            if (_state is not null)
            {
                Forward(inFlight.Source, inFlight.Marked, inFlight.Attempts + 1);
            }
        }

        if (_deadLettersInFlight.Count == 0)
        {
            Timers.Cancel("dead-letter-retry");
        }
    }

    private sealed class DeadLetterInFlight(QueuedMessage source, Message marked, int remaining, long sentAt, int attempts)
    {
        public int Attempts { get; } = attempts;
        public QueuedMessage Source { get; } = source;
        public Message Marked { get; } = marked;
        public int Remaining { get; set; } = remaining;
        public long SentAt { get; } = sentAt;
        public bool Failed { get; set; }
    }

    private sealed class DeadLetterRetryTick : INoSerializationVerificationNeeded
    {
        public static readonly DeadLetterRetryTick Instance = new();
    }
}
