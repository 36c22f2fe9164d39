using System.Diagnostics;
using System.Globalization;
using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Xunit.Abstractions;

namespace Broker.EndToEnd.Tests;

/// <summary>
/// The real node as a separate process, killed with SIGKILL while a publisher (confirms, persistent
/// messages) and a consumer (manual acks) run against a durable queue, then restarted on the same data
/// directory and port. What the client saw before the kill bounds what must come back:
/// - a confirmed message is never lost (a confirm is sent only after the journal write);
/// - nothing comes back twice, and never-confirmed messages come back at most once;
/// - a message that may have been delivered before the crash comes back with redelivered=true
///   (the DeliveryWatermark is written ahead of deliveries); an acked message may come back (its
///   ack may not have reached the journal) but only as a redelivery, and only if its ack completed
///   in the last second before the kill;
/// - first-time deliveries of the recovered queue come in publish order.
/// Each round runs on a fresh data directory (and a fresh port), so rounds do not depend on each
/// other and a failure names its seed. A clean stop (SIGTERM) loses nothing and resurrects no ack.
/// </summary>
public sealed class CrashTests
{
    private const string Queue = "crash-q";
    private const int PublishWindow = 200;
    private const ushort Prefetch = 100;

    private readonly ITestOutputHelper _log;

    public CrashTests(ITestOutputHelper log) => _log = log;

    private static ConnectionFactory Factory(NodeProcess node) => new()
    {
        Uri = new Uri(node.Uri),
        AutomaticRecoveryEnabled = false,
        TopologyRecoveryEnabled = false,
        RequestedHeartbeat = TimeSpan.FromSeconds(30),
    };

    private static BasicProperties Persistent => new() { DeliveryMode = DeliveryModes.Persistent };

    private static ReadOnlyMemory<byte> SeqBody(long seq) => Encoding.ASCII.GetBytes(seq.ToString(CultureInfo.InvariantCulture));

    private static long ParseSeq(ReadOnlyMemory<byte> body) => long.Parse(Encoding.ASCII.GetString(body.Span), CultureInfo.InvariantCulture);

    private static Dictionary<string, string> EnvFor(string dataDir) => new() { ["BROKER_DATA_DIR"] = dataDir };

    /// <param name="seed">Fixes the kill point (0.5 to 2.5 s after the load starts) and the ack batch size.</param>
    /// <param name="ackLimit">
    /// 0: the consumer acks everything and keeps up (the queue is short at the kill). Otherwise it stops acking
    /// after that many messages, so its prefetch window stays full and unacked and the kill finds a backlog:
    /// confirmed messages never delivered, many beyond the delivery watermark (first deliveries after the
    /// restart, which must keep publish order).
    /// </param>
    [Theory]
    [InlineData(11, 0)]
    [InlineData(37, 0)]
    [InlineData(23, 3000)]
    [InlineData(53, 500)]
    public async Task Sigkill_under_load_loses_no_confirmed_message_and_flags_redeliveries(int seed, int ackLimit)
    {
        var rnd = new Random(seed);
        var killAfter = TimeSpan.FromMilliseconds(500 + rnd.Next(2000));
        int ackBatch = 1 + rnd.Next(8); // 1 = ack each message, else multiple acks every ackBatch messages
        string dataDir = Directory.CreateTempSubdirectory("broker-crash-").FullName;
        int port = NodeProcess.FreePort();
        var state = new RunState();
        bool passed = false;
        NodeProcess? node = null;
        try
        {
            // ---- Run 1: load, then SIGKILL at a random point. ----
            node = await NodeProcess.StartAsync(EnvFor(dataDir), port);
            var pubConn = await Factory(node).CreateConnectionAsync();
            var conConn = await Factory(node).CreateConnectionAsync();
            var pubCh = await pubConn.CreateChannelAsync(new CreateChannelOptions(
                publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
            await pubCh.QueueDeclareAsync(Queue, durable: true, exclusive: false, autoDelete: false);
            var conCh = await conConn.CreateChannelAsync();
            await conCh.BasicQosAsync(0, Prefetch, false);

            var consumer = new AsyncEventingBasicConsumer(conCh);
            consumer.ReceivedAsync += (_, ea) => state.OnRun1DeliveryAsync(conCh, ea, ackBatch, ackLimit);
            await conCh.BasicConsumeAsync(Queue, autoAck: false, consumer);

            using var stop = new CancellationTokenSource();
            var publisher = Task.Run(() => PublishUntilStoppedAsync(pubCh, state, stop.Token));
            await Task.Delay(killAfter); // the random kill point: the purpose of the test
            var clock = Stopwatch.StartNew();
            long killedAt = Stopwatch.GetTimestamp();
            await node.KillAsync();
            stop.Cancel();
            await Wait.Until(() => !pubConn.IsOpen && !conConn.IsOpen, "clients to see the connections drop");
            await Wait.For(publisher, TimeSpan.FromSeconds(30));
            var run1 = state.Snapshot();
            _log.WriteLine(
                $"seed {seed}, ack limit {ackLimit}: killed after {killAfter.TotalMilliseconds:0} ms (ack batch {ackBatch}); published {run1.Published}, " +
                $"confirmed {run1.Confirmed.Count}, nacked/failed {run1.Failed}, delivered {run1.Delivered.Count}, " +
                $"ack sent {run1.AckAttempted.Count}, ack completed {run1.Acked.Count}");
            Assert.True(run1.Confirmed.Count > 0, $"nothing confirmed before the kill\n{node.Output}");
            await pubConn.DisposeAsync();
            await conConn.DisposeAsync();
            string run1Output = node.Output;
            await node.DisposeAsync();
            node = null;

            // ---- Run 2: restart on the same data and port, drain the queue. ----
            node = await NodeProcess.StartAsync(EnvFor(dataDir), port);
            _log.WriteLine($"restarted in {node.StartupTime.TotalMilliseconds:0} ms ({clock.ElapsedMilliseconds} ms after the kill)");
            var run2 = await DrainAsync(node, Queue);
            _log.WriteLine(
                $"run 2: {run2.Count} message(s), {run2.Count(d => d.Redelivered)} redelivered, " +
                $"{run2.Count(d => run1.Acked.Contains(d.Seq))} acked before the kill " +
                $"({run2.Count(d => run1.Acked.Contains(d.Seq) && run1.Confirmed.Contains(d.Seq))} of them confirmed), " +
                $"{run2.Count(d => !run1.Confirmed.Contains(d.Seq))} never confirmed; seqs {Describe(run2.Select(d => d.Seq))}; " +
                $"max confirmed {(run1.Confirmed.Count > 0 ? run1.Confirmed.Max() : -1)}, max delivered {(run1.Delivered.Count > 0 ? run1.Delivered.Max() : -1)}");

            var failures = Check(run1, run2, killedAt);
            if (failures.Count > 0)
            {
                Assert.Fail(
                    $"seed {seed}, kill after {killAfter.TotalMilliseconds:0} ms, ack batch {ackBatch}, data dir {dataDir}:\n" +
                    string.Join("\n", failures) +
                    $"\n--- node output before the kill (tail) ---\n{Tail(run1Output)}" +
                    $"\n--- node output after the restart (tail) ---\n{Tail(node.Output)}");
            }

            await node.StopAsync();
            passed = true;
        }
        finally
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }

            if (passed)
            {
                TryDelete(dataDir); // kept on failure, for a look at broker.db
            }
        }
    }

    [Fact]
    public async Task Sigterm_keeps_exactly_the_unacked_messages()
    {
        const int total = 600;
        const int ackedCount = total / 2;
        string dataDir = Directory.CreateTempSubdirectory("broker-clean-").FullName;
        int port = NodeProcess.FreePort();
        NodeProcess? node = null;
        try
        {
            node = await NodeProcess.StartAsync(EnvFor(dataDir), port);
            var conn = await Factory(node).CreateConnectionAsync();
            var ch = await conn.CreateChannelAsync(new CreateChannelOptions(true, true));
            await ch.QueueDeclareAsync(Queue, durable: true, exclusive: false, autoDelete: false);
            var pending = new List<Task>();
            for (long seq = 0; seq < total; seq++)
            {
                pending.Add(ch.BasicPublishAsync("", Queue, false, Persistent, SeqBody(seq)).AsTask());
            }

            await Wait.For(Task.WhenAll(pending), TimeSpan.FromSeconds(30));

            var conCh = await conn.CreateChannelAsync();
            await conCh.BasicQosAsync(0, Prefetch, false);
            // The first half is acked one by one as it arrives; then the prefetch window fills with unacked messages.
            var delivered = new List<(long Seq, ulong Tag, bool Redelivered)>();
            var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var consumer = new AsyncEventingBasicConsumer(conCh);
            consumer.ReceivedAsync += async (_, ea) =>
            {
                long seq = ParseSeq(ea.Body);
                lock (delivered)
                {
                    delivered.Add((seq, ea.DeliveryTag, ea.Redelivered));
                    if (delivered.Count >= ackedCount + Prefetch)
                    {
                        enough.TrySetResult();
                    }
                }

                if (seq < ackedCount)
                {
                    await conCh.BasicAckAsync(ea.DeliveryTag, multiple: false);
                }
            };
            await conCh.BasicConsumeAsync(Queue, autoAck: false, consumer);
            await Wait.For(enough.Task, TimeSpan.FromSeconds(20));
            await conCh.QueueDeclarePassiveAsync(Queue); // a round trip on the channel: the broker has the acks
            List<(long Seq, ulong Tag, bool Redelivered)> seen;
            lock (delivered)
            {
                seen = delivered.ToList();
            }

            Assert.Equal(Enumerable.Range(0, ackedCount + Prefetch).Select(i => (long)i), seen.Select(d => d.Seq));
            Assert.DoesNotContain(seen, d => d.Redelivered);
            var deliveredUnacked = new HashSet<long>();
            lock (delivered)
            {
                deliveredUnacked.UnionWith(delivered.Select(d => d.Seq).Where(s => s >= ackedCount));
            }

            int code = await node.StopAsync(); // SIGTERM with the consumer connected and messages unacked
            Assert.True(code == 0, $"exit code {code}\n{node.Output}");
            await Wait.Until(() => !conn.IsOpen, "client to see the connection drop");
            await conn.DisposeAsync();
            await node.DisposeAsync();
            node = null;

            node = await NodeProcess.StartAsync(EnvFor(dataDir), port);
            var rest = await DrainAsync(node, Queue);
            Assert.Equal(Enumerable.Range(ackedCount, total - ackedCount).Select(i => (long)i), rest.Select(d => d.Seq));
            var notFlagged = rest.Where(d => deliveredUnacked.Contains(d.Seq) && !d.Redelivered).Select(d => d.Seq).ToList();
            Assert.True(notFlagged.Count == 0,
                $"delivered before the stop but not flagged redelivered: {Describe(notFlagged)}\n{Tail(node.Output)}");
            await node.StopAsync();
        }
        finally
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }

            TryDelete(dataDir);
        }
    }

    /// <summary>Publishes seq 0, 1, 2, ... with up to <see cref="PublishWindow"/> confirms outstanding until stopped or the connection dies.</summary>
    private static async Task PublishUntilStoppedAsync(IChannel ch, RunState state, CancellationToken stop)
    {
        using var window = new SemaphoreSlim(PublishWindow);
        var outstanding = new List<Task>();
        try
        {
            for (long seq = 0; !stop.IsCancellationRequested && ch.IsOpen; seq++)
            {
                await window.WaitAsync(stop);
                state.OnPublish(seq);
                long s = seq;
                Task t;
                try
                {
                    t = ch.BasicPublishAsync("", Queue, false, Persistent, SeqBody(s)).AsTask();
                }
                catch (Exception)
                {
                    state.OnPublishFailed(s);
                    break;
                }

                outstanding.Add(t.ContinueWith(
                    done =>
                    {
                        if (done.IsCompletedSuccessfully)
                        {
                            state.OnConfirmed(s);
                        }
                        else
                        {
                            state.OnPublishFailed(s);
                        }

                        window.Release();
                    },
                    CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
                if (outstanding.Count > 4 * PublishWindow)
                {
                    outstanding.RemoveAll(x => x.IsCompleted);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped: the node was killed.
        }

        // Every outstanding publish ends: confirmed (the confirm was in the socket before the kill) or failed.
        await Task.WhenAll(outstanding).WaitAsync(TimeSpan.FromSeconds(20));
    }

    /// <summary>
    /// Consumes and acks everything in the queue: as many messages as a passive declare counts, then
    /// checks that the queue is empty and nothing more arrives for the cancelled consumer.
    /// </summary>
    private static async Task<List<(long Seq, bool Redelivered)>> DrainAsync(NodeProcess node, string queue)
    {
        await using var conn = await Factory(node).CreateConnectionAsync();
        await using var ch = await conn.CreateChannelAsync();
        uint count = (await ch.QueueDeclarePassiveAsync(queue)).MessageCount;
        var got = new List<(long Seq, bool Redelivered)>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (count == 0)
        {
            all.TrySetResult();
        }

        await ch.BasicQosAsync(0, 500, false);
        var consumer = new AsyncEventingBasicConsumer(ch);
        consumer.ReceivedAsync += async (_, ea) =>
        {
            int n;
            lock (got)
            {
                got.Add((ParseSeq(ea.Body), ea.Redelivered));
                n = got.Count;
            }

            if (n % 100 == 0 || n >= count)
            {
                await ch.BasicAckAsync(ea.DeliveryTag, multiple: true);
            }

            if (n >= count)
            {
                all.TrySetResult();
            }
        };
        string tag = await ch.BasicConsumeAsync(queue, autoAck: false, consumer);
        await Wait.For(all.Task, TimeSpan.FromSeconds(30));
        await ch.BasicCancelAsync(tag);
        // The acks went before the passive declare on the same channel: the queue must now be empty.
        Assert.Equal(0u, (await ch.QueueDeclarePassiveAsync(queue)).MessageCount);
        Assert.Null(await ch.BasicGetAsync(queue, autoAck: true));
        lock (got)
        {
            return got.ToList();
        }
    }

    /// <summary>
    /// How old an ack may be and still come back after a SIGKILL: acks are not confirmed to the
    /// client and are journaled in batches, so those of the last moment may be lost. A second is
    /// generous for a loaded 2-core CI box; an older one coming back means a removal was lost.
    /// </summary>
    private static readonly TimeSpan AckLagTime = TimeSpan.FromSeconds(1);

    private static List<string> Check(Run1 run1, List<(long Seq, bool Redelivered)> run2, long killedAt)
    {
        var failures = new List<string>();
        var run2Seqs = run2.Select(d => d.Seq).ToHashSet();

        // (0) Run 1 itself: every delivery a first delivery, none twice (nothing was requeued).
        if (run1.Run1Duplicates.Count > 0)
        {
            failures.Add($"delivered twice before the kill: {Describe(run1.Run1Duplicates)}");
        }

        if (run1.Run1Redelivered.Count > 0)
        {
            failures.Add($"redelivered=true before any crash: {Describe(run1.Run1Redelivered)}");
        }

        var unknown = run2Seqs.Where(s => s < 0 || s >= run1.Published).ToList();
        if (unknown.Count > 0)
        {
            failures.Add($"never published but delivered after the restart: {Describe(unknown)}");
        }

        // (1) Confirmed => delivered in run 1 or run 2; and confirmed with no ack ever sent => back in run 2.
        var lost = run1.Confirmed.Where(s => !run1.Delivered.Contains(s) && !run2Seqs.Contains(s)).ToList();
        if (lost.Count > 0)
        {
            failures.Add($"LOST: {lost.Count} confirmed message(s) never delivered: {Describe(lost)}");
        }

        var lostUnacked = run1.Confirmed.Where(s => !run1.AckAttempted.Contains(s) && !run2Seqs.Contains(s)).ToList();
        if (lostUnacked.Count > 0)
        {
            failures.Add(
                $"LOST: {lostUnacked.Count} confirmed message(s) never acked and missing after the restart " +
                $"({lostUnacked.Count(run1.Delivered.Contains)} of them delivered before the kill): {Describe(lostUnacked)}");
        }

        // (2)/(5) Nothing twice in run 2 (confirmed or not).
        var dups = run2.GroupBy(d => d.Seq).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (dups.Count > 0)
        {
            failures.Add($"DUPLICATE: delivered more than once after the restart: {Describe(dups)}");
        }

        // (3) Delivered before the kill => redelivered=true after the restart.
        var unflagged = run2.Where(d => run1.Delivered.Contains(d.Seq) && !d.Redelivered).Select(d => d.Seq).ToList();
        if (unflagged.Count > 0)
        {
            failures.Add($"MISSING REDELIVERED FLAG: delivered before the kill, redelivered=false after: {Describe(unflagged)}");
        }

        // (4) Acked before the kill: may come back (its removal not yet journaled), but only if the ack
        // completed in the last moment before the kill, and then flagged redelivered (checked in (3)).
        var ackedBack = run2.Where(d => run1.Acked.Contains(d.Seq)).Select(d => d.Seq).ToList();
        var resurrected = ackedBack
            .Where(s => Stopwatch.GetElapsedTime(run1.AckedAt[s], killedAt) > AckLagTime)
            .ToList();
        if (resurrected.Count > 0)
        {
            failures.Add($"RESURRECTED: acked more than {AckLagTime.TotalSeconds:0.#} s before the kill yet back ({ackedBack.Count} acked came back in all): {Describe(resurrected)}");
        }

        // (6) First-time deliveries of the recovered queue in publish order.
        var firsts = run2.Where(d => !d.Redelivered).Select(d => d.Seq).ToList();
        var outOfOrder = firsts.Zip(firsts.Skip(1), (a, b) => (A: a, B: b)).Where(p => p.B <= p.A).Select(p => $"{p.A}->{p.B}").ToList();
        if (outOfOrder.Count > 0)
        {
            failures.Add($"first-time deliveries out of publish order after the restart: {string.Join(", ", outOfOrder.Take(20))}");
        }

        // Redelivered ones too: the recovered queue is in id order, so run 2 as a whole is ordered.
        var all = run2.Select(d => d.Seq).ToList();
        var allOutOfOrder = all.Zip(all.Skip(1), (a, b) => (A: a, B: b)).Where(p => p.B <= p.A).Select(p => $"{p.A}->{p.B}").ToList();
        if (allOutOfOrder.Count > 0)
        {
            failures.Add($"recovered queue not in publish order: {string.Join(", ", allOutOfOrder.Take(20))}");
        }

        return failures;
    }

    private static string Describe(IEnumerable<long> seqs)
    {
        var list = seqs.OrderBy(s => s).ToList();
        // Ranges, to keep the message short.
        var parts = new List<string>();
        for (int i = 0; i < list.Count;)
        {
            int j = i;
            while (j + 1 < list.Count && list[j + 1] == list[j] + 1)
            {
                j++;
            }

            parts.Add(i == j ? list[i].ToString(CultureInfo.InvariantCulture) : $"{list[i]}..{list[j]}");
            i = j + 1;
        }

        return $"[{list.Count}] " + string.Join(", ", parts.Take(40)) + (parts.Count > 40 ? ", ..." : "");
    }

    private static string Tail(string output, int lines = 40)
    {
        var all = output.Split('\n');
        return string.Join("\n", all.Skip(Math.Max(0, all.Length - lines)));
    }

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort.
        }
    }

    private sealed record Run1(
        long Published,
        HashSet<long> Confirmed,
        int Failed,
        HashSet<long> Delivered,
        HashSet<long> AckAttempted,
        HashSet<long> Acked,
        Dictionary<long, long> AckedAt,
        List<long> Run1Duplicates,
        List<long> Run1Redelivered);

    /// <summary>What the clients saw in run 1, recorded from the publisher, its confirm continuations and the consumer.</summary>
    private sealed class RunState
    {
        private readonly object _lock = new();
        private readonly HashSet<long> _confirmed = new();
        private readonly HashSet<long> _delivered = new();
        private readonly HashSet<long> _ackAttempted = new();
        private readonly HashSet<long> _acked = new();
        private readonly Dictionary<long, long> _ackedAt = new();
        private readonly List<long> _duplicates = new();
        private readonly List<long> _redelivered = new();
        private readonly List<(long Seq, ulong Tag)> _toAck = new();
        private long _published;
        private int _failed;

        public void OnPublish(long seq)
        {
            lock (_lock)
            {
                _published = seq + 1;
            }
        }

        public void OnConfirmed(long seq)
        {
            lock (_lock)
            {
                _confirmed.Add(seq);
            }
        }

        public void OnPublishFailed(long seq)
        {
            lock (_lock)
            {
                _failed++;
            }
        }

        /// <summary>Records the delivery, then acks every <paramref name="ackBatch"/> messages (multiple when more than one).</summary>
        public async Task OnRun1DeliveryAsync(IChannel ch, BasicDeliverEventArgs ea, int ackBatch, int ackLimit)
        {
            long seq = ParseSeq(ea.Body);
            List<long> batch;
            lock (_lock)
            {
                if (!_delivered.Add(seq))
                {
                    _duplicates.Add(seq);
                }

                if (ea.Redelivered)
                {
                    _redelivered.Add(seq);
                }

                _toAck.Add((seq, ea.DeliveryTag));
                if (ackLimit > 0 && _ackAttempted.Count + _toAck.Count > ackLimit)
                {
                    _toAck.RemoveAt(_toAck.Count - 1); // past the limit: stays unacked
                    return;
                }

                if (_toAck.Count < ackBatch)
                {
                    return;
                }

                batch = _toAck.Select(x => x.Seq).ToList();
                _toAck.Clear();
                _ackAttempted.UnionWith(batch);
            }

            try
            {
                await ch.BasicAckAsync(ea.DeliveryTag, multiple: ackBatch > 1);
            }
            catch (Exception)
            {
                return; // the node is gone: this ack may or may not have reached it
            }

            lock (_lock)
            {
                _acked.UnionWith(batch);
                long now = Stopwatch.GetTimestamp();
                foreach (var acked in batch)
                {
                    _ackedAt[acked] = now;
                }
            }
        }

        public Run1 Snapshot()
        {
            lock (_lock)
            {
                return new Run1(_published, _confirmed.ToHashSet(), _failed, _delivered.ToHashSet(), _ackAttempted.ToHashSet(),
                    _acked.ToHashSet(), new Dictionary<long, long>(_ackedAt), _duplicates.ToList(), _redelivered.ToList());
            }
        }
    }
}
