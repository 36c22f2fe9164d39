using System.Net;
using System.Net.Sockets;
using Broker.Protocol;
using Broker.Protocol.Methods;

namespace Broker.EndToEnd.Tests.Fuzz;

/// <summary>
/// Runs one <see cref="FuzzCase"/> over TCP: the valid handshake prefix (waiting for each answer),
/// then the case's bytes in a few writes, then reads until the broker ends the connection,
/// answering its connection.close or channel.close as a client would. What it saw first is the
/// <see cref="Outcome"/>; a connection still open at the bound is <see cref="OutcomeKind.Hung"/>.
/// </summary>
public static class FuzzConnection
{
    /// <summary>
    /// Heartbeat asked for in tune-ok. The fuzzer sends none, so a broker left waiting for the rest
    /// of a frame that never comes drops the connection after two intervals (as RabbitMQ does);
    /// long enough that a loaded machine does not drop a case that is merely slow to be answered.
    /// </summary>
    public const ushort Heartbeat = 4;

    public static async Task<Outcome> RunAsync(int port, FuzzCase c, Random rng, TimeSpan bound)
    {
        using var cancel = new CancellationTokenSource(bound);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        // Each connection from its own loopback address: the broker holds back logins for a user
        // name from an address that failed a few times (LoginThrottle), and a mutated start-ok
        // now and then fails; from one address that would slow every later case by seconds.
        socket.Bind(new IPEndPoint(SourceAddress(rng), 0));
        await socket.ConnectAsync(IPAddress.Loopback, port, cancel.Token);
        var frames = new ServerFrames(socket);
        try
        {
            await RunPrefixAsync(socket, frames, c, cancel.Token);
            await SendInPiecesAsync(socket, c.Bytes, rng, cancel.Token);
            if (c.HangUp)
            {
                if (rng.Next(2) == 0)
                {
                    socket.LingerState = new LingerOption(true, 0); // a reset rather than a FIN
                }

                socket.Close();
                return new Outcome(OutcomeKind.HungUp);
            }

            return await ObserveAsync(socket, frames, cancel.Token);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return new Outcome(OutcomeKind.Hung, Text: $"still open after {bound.TotalSeconds:0} s");
        }
    }

    /// <summary>127.x.y.z with x, y, z in 1..254.</summary>
    private static IPAddress SourceAddress(Random rng) =>
        new(new byte[] { 127, (byte)rng.Next(1, 255), (byte)rng.Next(1, 255), (byte)rng.Next(1, 255) });

    private static async Task RunPrefixAsync(Socket socket, ServerFrames frames, FuzzCase c, CancellationToken cancel)
    {
        if (c.Prefix == Prefix.None)
        {
            return;
        }

        await SendAsync(socket, FrameWriter.ProtocolHeader, cancel);
        await ExpectAsync<ConnectionStart>(frames, cancel);
        if (c.Prefix == Prefix.Started)
        {
            return;
        }

        await SendAsync(socket, Frames(0, SessionBuilder.StartOk()), cancel);
        await ExpectAsync<ConnectionTune>(frames, cancel);
        if (c.Prefix == Prefix.Tuned)
        {
            return;
        }

        await SendAsync(socket, Frames(0, new ConnectionTuneOk { ChannelMax = SessionBuilder.ChannelMax, FrameMax = c.FrameMax, Heartbeat = Heartbeat },
            new ConnectionOpen { VirtualHost = "/" }), cancel);
        await ExpectAsync<ConnectionOpenOk>(frames, cancel);
        if (c.Prefix == Prefix.Opened)
        {
            return;
        }

        await SendAsync(socket, Frames(1, new ChannelOpen()), cancel);
        await ExpectAsync<ChannelOpenOk>(frames, cancel);
    }

    /// <summary>
    /// Reads until the connection ends. When the broker says nothing for <see cref="Quiet"/> it may
    /// rightly be waiting for the rest of a frame whose size a mutation enlarged, or for a close a
    /// mutation removed: the fuzzer then sends a frame_max worth of heartbeat frames (which fill any
    /// frame in progress, so the broker must judge it) and connection.close, as a client that gives
    /// up would. A broker that then still neither answers nor closes is hung.
    /// </summary>
    private static async Task<Outcome> ObserveAsync(Socket socket, ServerFrames frames, CancellationToken cancel)
    {
        Outcome? first = null;
        bool ending = false; // connection.close or close-ok seen: the broker closes the socket next
        int nudges = 0;
        var pending = frames.NextAsync(cancel);
        while (true)
        {
            if (!ending && nudges < MaxNudges)
            {
                var done = await Task.WhenAny(pending, Task.Delay(Quiet, cancel));
                if (done != pending)
                {
                    nudges++;
                    await TrySendAsync(socket, NudgeBytes, cancel);
                    continue;
                }
            }

            var command = await pending;
            if (command is null)
            {
                return first ?? new Outcome(frames.SawProtocolHeader ? OutcomeKind.HeaderReply : OutcomeKind.Dropped);
            }

            switch (command.Method)
            {
                case ConnectionClose close:
                    first ??= new Outcome(OutcomeKind.ConnectionClose, close.ReplyCode, 0, close.ReplyText);
                    ending = true;
                    // Answer as a client does; the broker then closes the socket, which ends the loop.
                    await TrySendAsync(socket, Frames(0, new ConnectionCloseOk()), cancel);
                    break;
                case ChannelClose close:
                    first ??= new Outcome(OutcomeKind.ChannelClose, close.ReplyCode, command.Channel, close.ReplyText);
                    await TrySendAsync(socket, Frames(command.Channel, new ChannelCloseOk()), cancel);
                    break;
                case ConnectionCloseOk:
                    // The session's own close was answered: the client closes the socket now.
                    return first ?? new Outcome(OutcomeKind.CloseOk);
            }

            pending = frames.NextAsync(cancel);
        }
    }

    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(3);
    private const int MaxNudges = 3;

    /// <summary>Heartbeat frames enough to fill the largest frame the broker accepts, then connection.close.</summary>
    private static readonly byte[] NudgeBytes = MakeNudge();

    private static byte[] MakeNudge()
    {
        int heartbeats = (int)(FuzzCase.DefaultFrameMax / FrameWriter.HeartbeatFrame.Length) + 1;
        var w = new AmqpWriter(heartbeats * FrameWriter.HeartbeatFrame.Length + 64);
        for (int i = 0; i < heartbeats; i++)
        {
            w.WriteBytes(FrameWriter.HeartbeatFrame);
        }

        FrameWriter.WriteMethod(w, 0, new ConnectionClose { ReplyCode = 200, ReplyText = "fuzzer gives up" });
        return w.ToArray();
    }

    private static async Task<T> ExpectAsync<T>(ServerFrames frames, CancellationToken cancel) where T : Method
    {
        var command = await frames.NextAsync(cancel);
        return command?.Method as T ?? throw new InvalidDataException(
            $"valid handshake: expected {typeof(T).Name}, got {command?.ToString() ?? (frames.SawProtocolHeader ? "a protocol header" : "a closed socket")}");
    }

    private static byte[] Frames(ushort channel, params Method[] methods) =>
        FuzzFrame.Serialize(methods.Select(m => FuzzFrame.Method(channel, m)));

    /// <summary>Sends in one to four writes cut at random points, so the broker sees frames split across reads.</summary>
    private static async Task SendInPiecesAsync(Socket socket, byte[] bytes, Random rng, CancellationToken cancel)
    {
        int pieces = rng.Next(1, 5);
        var cuts = Enumerable.Range(0, pieces - 1).Select(_ => rng.Next(bytes.Length + 1)).Append(0).Append(bytes.Length)
            .Distinct().Order().ToList();
        for (int i = 0; i + 1 < cuts.Count; i++)
        {
            if (!await TrySendAsync(socket, bytes[cuts[i]..cuts[i + 1]], cancel))
            {
                return; // the broker closed already; what it said is still to be read
            }
        }
    }

    private static async Task SendAsync(Socket socket, byte[] bytes, CancellationToken cancel) =>
        await socket.SendAsync(bytes, SocketFlags.None, cancel);

    private static async Task<bool> TrySendAsync(Socket socket, byte[] bytes, CancellationToken cancel)
    {
        try
        {
            await socket.SendAsync(bytes, SocketFlags.None, cancel);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
