using Broker.Actors.Queues;
using Broker.Protocol;

namespace Broker.Actors.Tests.Queues;

/// <summary>
/// Model-based test: random sequences of publish, consume, cancel, credit, ack, requeue, reject,
/// basic.get, channel loss, expiry, watermark writes, purge and crash-and-recover, run against
/// QueueState and a plain reference model that checks every effect as it happens:
/// - a delivery is of the message that must go next (highest priority, then lowest id), not
///   expired, to a consumer with room, covered by a written watermark if it is journaled, with the
///   redelivered flag set exactly when it was handed out before;
/// - what leaves the queue leaves for a reason the operation allows, and nothing is lost or doubled
///   (counts agree with the model after every step);
/// - no consumer with room is left idle while a deliverable message waits;
/// - after a crash, exactly the live persistent messages of a durable queue come back, every one
///   handed out before marked redelivered.
/// A failure names the seed and the operations that led to it.
/// </summary>
public class QueueStateModelTests
{
    /// <summary>Journaled, max priority, queue TTL, delivery limit, and the memory budget (0: no paging; 700 B: three messages in memory, the rest in a real page file).</summary>
    public static IEnumerable<object[]> Configurations() => new[]
    {
        new object[] { false, (byte)0, 0L, 0L, 0L },
        new object[] { true, (byte)0, 0L, 0L, 0L },
        new object[] { true, (byte)3, 0L, 0L, 0L },
        new object[] { true, (byte)0, 40L, 0L, 0L },
        new object[] { false, (byte)2, 25L, 2L, 0L },
        new object[] { true, (byte)4, 60L, 1L, 0L },
        new object[] { false, (byte)0, 0L, 0L, 700L },
        new object[] { true, (byte)0, 40L, 2L, 700L },
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Random_operations_agree_with_the_model(bool journaled, byte maxPriority, long ttl, long deliveryLimit, long memoryBudget)
    {
        string pages = Path.Combine(Path.GetTempPath(), "queue-model-pages-" + Guid.NewGuid().ToString("N"));
        int mostPaged = 0;
        try
        {
            for (int seed = 0; seed < 150; seed++)
            {
                var run = new ModelRun(seed, journaled, maxPriority, ttl, deliveryLimit, memoryBudget, pages);
                try
                {
                    run.Execute(400);
                }
                catch (Exception e)
                {
                    throw new Exception($"seed {seed} ({journaled}, {maxPriority}, {ttl}, {deliveryLimit}, {memoryBudget}) failed: {e.Message}\nlast operations:\n" +
                                        string.Join("\n", run.Log.TakeLast(25)), e);
                }
                finally
                {
                    run.Dispose();
                }

                mostPaged = Math.Max(mostPaged, run.MostPaged);
            }
        }
        finally
        {
            if (Directory.Exists(pages))
            {
                Directory.Delete(pages, recursive: true);
            }
        }

        // The budget must really have sent messages to the page file, or paging went untested.
        Assert.True(memoryBudget == 0 ? mostPaged == 0 : mostPaged >= 10, $"at most {mostPaged} message(s) were paged out at once");
    }

    private sealed class ModelConsumer(string tag, string channel, bool noAck, ushort prefetch, int window, int priority)
    {
        public string Tag { get; } = tag;
        public string Channel { get; } = channel;
        public bool NoAck { get; } = noAck;
        public ushort Prefetch { get; } = prefetch;
        public int Window { get; } = window;
        public int Priority { get; } = priority;
        public int InFlight { get; set; }
        public long Delivered { get; set; }
        public long Credited { get; set; }

        public bool HasRoom => Delivered - Credited < Window && (NoAck || Prefetch == 0 || InFlight < Prefetch);
    }

    private sealed record ModelMessage(long Id, byte Priority, long ExpiresAt, bool Persistent, Message Message)
    {
        public bool Redelivered { get; set; }
        public int Returns { get; set; }
    }

    private enum Op { None, Publish, Ack, Requeue, Reject, Get, ChannelGone, Purge, Cancel, Other }

    private sealed class ModelRun : IQueueEffects<string>, IDisposable
    {
        private static readonly string[] Channels = { "c1", "c2", "c3" };
        private readonly Random _rng;
        private readonly bool _journaled;
        private readonly QueueArguments _args;
        private QueueState<string> _state;
        private long _now = 1_000_000;

        private readonly SortedDictionary<long, ModelMessage> _ready = new();
        private readonly Dictionary<long, (ModelMessage M, string Channel, ModelConsumer? Consumer)> _unacked = new();
        private readonly List<ModelConsumer> _consumers = new();
        private readonly HashSet<long> _everDelivered = new();
        private readonly SortedDictionary<long, ModelMessage> _journal = new();
        private long _watermarkWritten;
        private long _watermarkAsked;
        private int _tags;

        // What the operation in progress allows.
        private Op _op;
        private string? _opChannel;
        private long _getNoAckRemoved;

        private readonly long _memoryBudget;
        private readonly string _pagesDirectory;
        private PagedTail? _pagedTail;
        private int _published;

        public ModelRun(int seed, bool journaled, byte maxPriority, long ttl, long deliveryLimit, long memoryBudget, string pagesDirectory)
        {
            _memoryBudget = memoryBudget;
            _pagesDirectory = pagesDirectory;
            _rng = new Random(seed);
            _journaled = journaled;
            var t = new FieldTable { ["x-dead-letter-exchange"] = "dlx" };
            if (maxPriority > 0)
            {
                t["x-max-priority"] = (int)maxPriority;
            }

            if (ttl > 0)
            {
                t["x-message-ttl"] = ttl;
            }

            if (deliveryLimit > 0)
            {
                t["x-delivery-limit"] = deliveryLimit;
            }

            _args = QueueArguments.Parse(t, "/", "q", "classic");
            _state = NewState();
        }

        public void Dispose() => _pagedTail?.Dispose();

        /// <summary>The most ready messages the state held paged out at once.</summary>
        public int MostPaged { get; private set; }

        /// <summary>A state as QueueActor makes one: with a paged tail in a page file of its own when there is a budget.</summary>
        private QueueState<string> NewState()
        {
            _pagedTail?.Dispose();
            _pagedTail = _memoryBudget > 0
                ? new PagedTail(Path.Combine(_pagesDirectory, Guid.NewGuid().ToString("N")), reason => Assert.Fail($"page file write failed: {reason}"))
                : null;
            return new QueueState<string>(_args, _journaled, this, _pagedTail, _memoryBudget);
        }

        public List<string> Log { get; } = new();

        public void Execute(int steps)
        {
            for (int i = 0; i < steps; i++)
            {
                _now += _rng.Next(0, 8);
                Step();
                CheckCounts();
                CheckNoIdleConsumer();
            }
        }

        private void Step()
        {
            int roll = _rng.Next(100);
            _op = Op.Other;
            _opChannel = null;
            if (roll < 30)
            {
                bool persistent = _rng.Next(2) == 0;
                byte? priority = _rng.Next(3) == 0 ? null : (byte)_rng.Next(0, 6);
                string? expiration = _rng.Next(6) == 0 ? _rng.Next(0, 50).ToString() : null;
                var p = new BasicProperties { DeliveryMode = persistent ? (byte)2 : (byte)1, Priority = priority, Expiration = expiration };
                // A body and routing key of its own, so a message that comes back from the page file is seen to be the same.
                var body = BitConverter.GetBytes(++_published).AsSpan(0, _rng.Next(0, 5)).ToArray();
                var message = new Message("", _rng.Next(3) == 0 ? "q" : "key-" + _published % 4, p, ContentHeader.EncodeProperties(p), body);
                Do($"publish persistent={persistent} priority={priority} expiration={expiration}", Op.Publish, null,
                    () => _state.Publish(message, _now));
            }
            else if (roll < 38 && _consumers.Count < 5)
            {
                var c = new ModelConsumer("t" + ++_tags, Pick(Channels), _rng.Next(5) == 0, (ushort)_rng.Next(0, 4), _rng.Next(1, 6),
                    _rng.Next(4) == 0 ? 1 : 0);
                Do($"consume {c.Tag} on {c.Channel} noAck={c.NoAck} prefetch={c.Prefetch} window={c.Window} priority={c.Priority}", Op.Other, null, () =>
                {
                    int at = _consumers.FindIndex(x => x.Priority < c.Priority);
                    _consumers.Insert(at < 0 ? _consumers.Count : at, c);
                    Assert.Null(_state.AddConsumer(new Consumer<string>(c.Tag, c.Channel, c.NoAck, false, c.Prefetch, c.Window, c.Priority), "q"));
                    _state.DeliverReady(_now);
                });
            }
            else if (roll < 41 && _consumers.Count > 0)
            {
                var c = Pick(_consumers);
                Do($"cancel {c.Tag}", Op.Cancel, c.Channel, () =>
                {
                    _consumers.Remove(c);
                    Assert.True(_state.RemoveConsumer(c.Tag, c.Channel, _now));
                });
            }
            else if (roll < 53 && _consumers.Count > 0)
            {
                var c = Pick(_consumers);
                Do($"credit {c.Tag} written={c.Delivered}", Op.Other, c.Channel, () =>
                {
                    c.Credited = c.Delivered;
                    _state.DeliveryCredit(c.Tag, c.Channel, c.Delivered, _now);
                });
            }
            else if (roll < 75 && _unacked.Count > 0)
            {
                var (id, u) = Pick(_unacked.ToList());
                var outcome = _rng.Next(10) switch { < 6 => Settlement.Ack, < 8 => Settlement.Requeue, _ => Settlement.Discard };
                // Now and then from the wrong channel: that must change nothing.
                string channel = _rng.Next(12) == 0 ? Pick(Channels) : u.Channel;
                var op = channel != u.Channel ? Op.Other : outcome switch { Settlement.Ack => Op.Ack, Settlement.Requeue => Op.Requeue, _ => Op.Reject };
                Do($"{outcome} {id} from {channel} (held by {u.Channel})", op, channel, () =>
                {
                    if (op != Op.Other)
                    {
                        Settled(id);
                    }

                    _state.Settle(channel, new[] { id }, outcome, _now);
                });
            }
            else if (roll < 82)
            {
                string channel = Pick(Channels);
                bool noAck = _rng.Next(2) == 0;
                Do($"get on {channel} noAck={noAck}", Op.Get, channel, () =>
                {
                    _getNoAckRemoved = 0;
                    var m = _state.Get(channel, noAck, _now, out bool wait);
                    if (m is null)
                    {
                        Assert.True(wait || !_ready.Values.Any(x => !Expired(x)), "basic.get found nothing while a message was ready");
                        return;
                    }

                    Delivered(m, null, channel, noAck);
                    if (noAck)
                    {
                        Assert.Equal(m.Id, _getNoAckRemoved);
                    }
                });
            }
            else if (roll < 85)
            {
                string channel = Pick(Channels);
                Do($"channel {channel} gone", Op.ChannelGone, channel, () =>
                {
                    _consumers.RemoveAll(c => c.Channel == channel);
                    foreach (var (id, u) in _unacked.Where(x => x.Value.Channel == channel).ToList())
                    {
                        Settled(id);
                    }

                    _state.ChannelGone(channel, _now);
                });
            }
            else if (roll < 90)
            {
                _now += _rng.Next(0, 40);
                Do("expire", Op.Other, null, () => _state.Expire(_now));
            }
            else if (roll < 96 && _journaled && _watermarkAsked > _watermarkWritten)
            {
                long upTo = _watermarkAsked + _rng.Next(0, 5);
                Do($"watermark written up to {upTo}", Op.Other, null, () =>
                {
                    _watermarkWritten = upTo;
                    _state.WatermarkWritten(upTo, _now);
                });
            }
            else if (roll < 97)
            {
                Do("purge", Op.Purge, null, () => Assert.Equal(_ready.Count, _state.Purge()));
            }
            else if (roll < 100)
            {
                Do("crash and recover", Op.Other, null, Crash);
            }
        }

        private void Do(string what, Op op, string? channel, Action action)
        {
            Log.Add($"t={_now} {what}");
            _op = op;
            _opChannel = channel;
            action();
            _op = Op.None;
        }

        /// <summary>A settled message leaves the model's unacked set (the effects say where it goes).</summary>
        private void Settled(long id)
        {
            var u = _unacked[id];
            _unacked.Remove(id);
            if (u.Consumer is { } c)
            {
                c.InFlight--;
            }

            if (_op is Op.Requeue or Op.ChannelGone)
            {
                u.M.Returns++;
                u.M.Redelivered = true;
                if (_args.DeliveryLimit is not { } limit || u.M.Returns <= limit)
                {
                    _ready[id] = u.M;
                }
            }
        }

        private void Crash()
        {
            foreach (var id in _everDelivered.Where(_journal.ContainsKey))
            {
                Assert.True(id <= _watermarkWritten, $"message {id} was handed out above the written watermark {_watermarkWritten}");
            }

            _state = NewState();
            _ready.Clear();
            _unacked.Clear();
            _consumers.Clear();
            _everDelivered.Clear();
            _watermarkAsked = 0;
            foreach (var (id, m) in _journal)
            {
                var restored = m with { };
                restored.Redelivered = id <= _watermarkWritten;
                restored.Returns = 0;
                _ready[id] = restored;
                _state.Restore(id, m.Message, m.ExpiresAt, restored.Redelivered);
            }

            _state.RestoreCounters(_journal.Count > 0 ? _journal.Keys.Max() + 1 : 1, _watermarkWritten);
            _op = Op.Other;
            _state.Recovered(_now);
        }

        private bool Expired(ModelMessage m) => m.ExpiresAt != 0 && m.ExpiresAt < _now;

        /// <summary>The message that must be handed out next: highest priority, then lowest id.</summary>
        private ModelMessage? Front() =>
            _ready.Values.OrderByDescending(m => m.Priority).ThenBy(m => m.Id).FirstOrDefault();

        private bool Deliverable(ModelMessage m) => !_journaled || !m.Persistent || m.Id <= _watermarkWritten;

        private void Delivered(QueuedMessage m, ModelConsumer? consumer, string channel, bool noAck)
        {
            var expected = Front();
            Assert.True(expected is not null, $"delivered {m.Id} from an empty queue");
            Assert.Equal(expected!.Id, m.Id);
            Assert.False(Expired(expected), $"delivered {m.Id}, which expired at {expected.ExpiresAt}");
            Assert.True(Deliverable(expected), $"delivered {m.Id} above the written watermark {_watermarkWritten}");
            Assert.Equal(expected.Redelivered, m.Redelivered);
            AssertSameMessage(expected, m);
            _ready.Remove(m.Id);
            _everDelivered.Add(m.Id);
            expected.Redelivered = true;
            if (!noAck)
            {
                _unacked[m.Id] = (expected, channel, consumer);
            }
        }

        /// <summary>What was published comes out: body, routing key, exchange and properties (of a returned one, less the headers a return may set).</summary>
        private static void AssertSameMessage(ModelMessage expected, QueuedMessage m)
        {
            var (a, b) = (expected.Message, m.Message);
            Assert.Equal(a.Body, b.Body);
            Assert.Equal((a.Exchange, a.RoutingKey, a.DeliveryMode, a.Priority, a.Expiration), (b.Exchange, b.RoutingKey, b.DeliveryMode, b.Priority, b.Expiration));
            if (m.ReturnCount == 0)
            {
                Assert.Equal(a.RawProperties, b.RawProperties);
            }

            Assert.Equal(expected.ExpiresAt, m.ExpiresAt);
        }

        private void CheckCounts()
        {
            MostPaged = Math.Max(MostPaged, _state.PagedCount);
            Assert.Equal(_ready.Count, _state.ReadyCount);
            Assert.Equal(_unacked.Count, _state.UnackedCount);
            Assert.Equal(_consumers.Count, _state.ConsumerCount);
            Assert.Equal(_ready.Values.Sum(m => (long)m.Message.Body.Length), _state.ReadyBytes);
        }

        private void CheckNoIdleConsumer()
        {
            if (Front() is { } front && _consumers.Any(c => c.HasRoom))
            {
                // Blocked on the watermark is fine once a write covering it is asked for: its completion delivers.
                Assert.True(!Deliverable(front) && _watermarkAsked >= front.Id,
                    $"message {front.Id} waits while a consumer has room; ready: " +
                    string.Join(", ", _ready.Values.Select(m => $"{m.Id}/p{m.Priority}/x{m.ExpiresAt}/{(m.Persistent ? "P" : "T")}")) +
                    "; consumers: " + string.Join(", ", _consumers.Select(c => $"{c.Tag} in-flight {c.InFlight} delivered {c.Delivered} credited {c.Credited}")) +
                    "; state's: " + string.Join(", ", _state.Consumers.Select(c => $"{c.Tag} in-flight {c.InFlight} delivered {c.Delivered} credited {c.Credited} credit {c.HasCredit}")) +
                    $"; state front {(_state.ReadyCount > 0 ? _state.FindLive(front.Id)?.Id : -1)} held {_state.DeliveriesHeld} upto {_state.DeliverableUpTo}");
            }
        }

        void IQueueEffects<string>.Accepted(QueuedMessage message)
        {
            Assert.Equal(Op.Publish, _op);
            var m = new ModelMessage(message.Id, message.Priority, message.ExpiresAt, message.Message.Persistent, message.Message);
            Assert.Equal(_args.MaxPriority == 0 ? 0 : Math.Min(message.Message.Properties.Priority ?? 0, _args.MaxPriority), message.Priority);
            _ready[message.Id] = m;
            if (_journaled && m.Persistent)
            {
                _journal[m.Id] = m;
            }
        }

        void IQueueEffects<string>.Deliver(Consumer<string> consumer, QueuedMessage message)
        {
            Log.Add($"  -> deliver {message.Id} to {consumer.Tag}");
            var c = _consumers.Single(x => x.Tag == consumer.Tag);
            Assert.True(c.HasRoom, $"delivered {message.Id} to {c.Tag}, which has no room");
            var best = _consumers.Where(x => x.HasRoom).Max(x => x.Priority);
            Assert.Equal(best, c.Priority);
            if (c.NoAck)
            {
                Assert.Equal(message.Id, _getNoAckRemoved);
            }

            Delivered(message, c, c.Channel, c.NoAck);
            c.Delivered++;
            if (!c.NoAck)
            {
                c.InFlight++;
            }
        }

        void IQueueEffects<string>.Removed(QueuedMessage message)
        {
            Log.Add($"  -> removed {message.Id}");
            _journal.Remove(message.Id);
            if (!_ready.ContainsKey(message.Id))
            {
                // Only an ack removes a message that is not ready (the model already settled it).
                Assert.Equal(Op.Ack, _op);
                Assert.False(_unacked.ContainsKey(message.Id));
                return;
            }

            if (_op == Op.Purge)
            {
                _ready.Remove(message.Id);
                return;
            }

            // A no-ack delivery or get: the delivery that follows is checked against the front.
            _getNoAckRemoved = message.Id;
        }

        void IQueueEffects<string>.DeadLettered(QueuedMessage message, DeathReason reason)
        {
            Log.Add($"  -> dead-lettered {message.Id} {reason}");
            _journal.Remove(message.Id);
            switch (reason)
            {
                case DeathReason.Expired:
                    Assert.True(_ready.TryGetValue(message.Id, out var m), $"expired {message.Id}, which is not ready");
                    // A TTL of 0 dies at once when no consumer takes it at publish.
                    Assert.True(Expired(m!) || (_op == Op.Publish && m!.ExpiresAt <= _now), $"expired {message.Id} before its time {m!.ExpiresAt} (now {_now})");
                    Assert.Equal(m.Id, _ready.Values.Where(x => x.Priority == m.Priority).Min(x => x.Id));
                    AssertSameMessage(m, message);
                    _ready.Remove(message.Id);
                    break;
                case DeathReason.Rejected:
                    Assert.Equal(Op.Reject, _op);
                    break;
                case DeathReason.DeliveryLimit:
                    Assert.True(_op is Op.Requeue or Op.ChannelGone, $"delivery limit on {_op}");
                    Assert.True(message.ReturnCount > _args.DeliveryLimit, $"{message.Id} dead-lettered after {message.ReturnCount} returns");
                    break;
                default:
                    Assert.Fail($"unexpected dead-letter reason {reason}");
                    break;
            }
        }

        void IQueueEffects<string>.Due(QueuedMessage message) => Assert.Fail("an ordinary queue released a delayed message");

        void IQueueEffects<string>.WatermarkNeeded(long id)
        {
            Log.Add($"  -> watermark needed {id}");
            Assert.True(_journaled, "a queue that journals nothing asked for a watermark");
            Assert.True(id > _watermarkWritten);
            _watermarkAsked = Math.Max(_watermarkAsked, id);
        }

        void IQueueEffects<string>.ExpiryDue(long at)
        {
            // When the wake-up comes is the owner's business; Expire is run by the model at random times.
        }

        private T Pick<T>(IReadOnlyList<T> items) => items[_rng.Next(items.Count)];
    }
}
