using System.Net;
using System.Reflection;
using Akka.Actor;
using Akka.Event;
using Broker.Actors.Access;
using Broker.Actors.Alarms;
using Broker.Actors.Channel;
using Broker.Actors.Transport;
using Broker.Protocol;
using Broker.Protocol.Methods;

namespace Broker.Actors.Connection;

/// <summary>
/// One AMQP connection, on the node that accepted its socket.
/// - the handshake: protocol header, start/start-ok (PLAIN, AMQPLAIN), tune/tune-ok, open;
/// - heartbeats both ways: sends one every interval, drops a peer silent for two;
/// - multiplexes channels to ChannelActor children and enforces channel_max;
/// - stops reading a socket that publishes while a memory or disk alarm is in effect anywhere in
///   the cluster (connection.blocked / unblocked to clients that ask for them);
/// - connection-level errors: connection.close with the reply code, wait for close-ok, drop;
/// - its death ends the exclusive queues it owns (they watch it) and, through its children, returns
///   every unacked message of its channels to their queues.
/// </summary>
public sealed class ConnectionActor : ReceiveActor, IWithTimers
{
    private static readonly string Version =
        typeof(ConnectionActor).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? "0.1.0";

    private readonly BrokerContext _broker;
    private readonly OutboundFrames _outbound;
    private readonly EndPoint? _remote;
    private readonly string? _certificateUser;
    private readonly string _name;
    private readonly Stats.ConnectionStats _stats;

    /// <summary>Why the connection ends, for the management's list of recent closes (the first reason noted wins).</summary>
    private Stats.ClosedConnection? _closeReason;

    /// <summary>The client sent a protocol header: its close is worth listing (a bare TCP probe's is not).</summary>
    private bool _spokeAmqp;

    /// <summary>The management API's own connection (it says so in its client properties): its closes are not listed.</summary>
    private bool _managementSession;

    /// <summary>The client property by which the management API marks its own AMQP connections.</summary>
    public const string InternalClientProperty = "x-broker-management-api";
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly AmqpWriter _writer = new(512);
    private readonly Dictionary<ushort, IActorRef> _channels = new();
    private readonly Authenticator _authenticator;
    private readonly HashSet<IActorRef> _blockedChannels = new();
    private HashSet<IActorRef> _closingChannels = new();
    /// <summary>The inbound stream waiting for its ack: nothing more is read until it gets it.</summary>
    private IActorRef? _stalledStream;

    /// <summary>connection.blocked's reason while a memory or disk alarm is in effect in the cluster, else null.</summary>
    private string? _alarmReason;

    /// <summary>It published while an alarm was in effect: its socket is not read until the alarm clears.</summary>
    private bool _blockedByAlarm;

    /// <summary>The client takes connection.blocked / unblocked (its capabilities say so), and was sent blocked.</summary>
    private bool _blockedCapable;
    private bool _blockedSent;
    private IActorRef? _batchTarget;
    private List<Command>? _batch;
    private Phase _phase = Phase.AwaitingHeader;
    private string _user = string.Empty;
    private string _vhost = string.Empty;
    private int _frameMax;
    private ushort _channelMax;
    private ushort _heartbeat;
    private bool _authFailureClose;
    private bool _consumerCancelNotify;
    private long _lastReceived = Environment.TickCount64;
    private long _channelSeq;

    /// <param name="certificateUser">The CN of a TLS client's verified certificate (offers EXTERNAL), else null.</param>
    public ConnectionActor(BrokerContext broker, OutboundFrames outbound, EndPoint? remote, Stats.ConnectionStats stats,
        string? certificateUser = null)
    {
        _broker = broker;
        _outbound = outbound;
        _remote = remote;
        _stats = stats;
        _name = stats.Name;
        _certificateUser = certificateUser;
        _authenticator = new Authenticator(broker.Access, broker.Settings.LoopbackUsers);
        _frameMax = broker.Settings.FrameMax;
        _channelMax = broker.Settings.ChannelMax;

        Receive<StreamInit>(_ => Sender.Tell(StreamAck.Instance));
        Receive<InboundBatch>(b => OnEvents(b.Events));
        Receive<StreamCompleted>(_ => OnSocketClosed(null));
        Receive<StreamFailed>(f => OnSocketClosed(f.Cause));
        Receive<ConnectionError>(e => OnChannelConnectionError(e.Error));
        Receive<ChannelFinished>(f =>
        {
            // Only if the number still belongs to that actor: the client may already have reused it.
            if (_channels.TryGetValue(f.Number, out var ch) && ch.Equals(Sender))
            {
                _channels.Remove(f.Number);
                _stats.Channels = _channels.Count;
            }
        });
        Receive<ChannelPublishFlow>(OnChannelPublishFlow);
        Receive<AlarmsChanged>(OnAlarmsChanged);
        Receive<ForceClose>(f => CloseWithError(new AmqpException(ReplyCode.ConnectionForced,
            AmqpException.Format(ReplyCode.ConnectionForced, f.Reason))));
        Receive<HeartbeatTick>(_ => OnHeartbeatTick());
        Receive<HandshakeTimeout>(_ =>
        {
            if (_phase < Phase.Open)
            {
                _log.Warning("closing AMQP connection {0} ({1}): handshake timeout", _name, _remote);
                NoteClose(0, "handshake timeout", "broker");
                Drop();
            }
        });
        Receive<CloseTimeout>(_ => Drop());
        Receive<LoginAnswer>(a => AnswerLogin(a.User, a.Mechanism));
        Receive<Terminated>(t => OnChannelStopped(t.ActorRef));
        Receive<ChannelsCloseTimeout>(_ =>
        {
            if (_phase == Phase.ClosingChannels)
            {
                SendCloseOk();
            }
        });
    }

    private enum Phase
    {
        AwaitingHeader,
        AwaitingStartOk,
        AwaitingTuneOk,
        AwaitingOpen,
        Open,

        /// <summary>The client closed the connection; its channels are answering what they owe before close-ok. Input ignored.</summary>
        ClosingChannels,

        /// <summary>Logins from this address failed repeatedly: the answer is held back (LoginThrottle), input ignored.</summary>
        Held,
        Closing,
        Closed,
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        _log.Info("accepting AMQP connection {0} ({1})", _name, _remote);
        Context.System.EventStream.Subscribe(Self, typeof(AlarmsChanged));
        _alarmReason = ResourceAlarms.BlockReason(_broker.Alarms.Current);
        Timers.StartSingleTimer("handshake", HandshakeTimeout.Instance, _broker.Settings.HandshakeTimeout);
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        _broker.Connections.Remove(Self);
        if (_spokeAmqp && !_managementSession)
        {
            _broker.Stats.Closed.Add(_closeReason ?? Closed(0, "connection closed", "broker"));
        }

        _outbound.Complete();
        base.PostStop();
    }

    private void OnEvents(List<InboundEvent> events)
    {
        _lastReceived = Environment.TickCount64;
        bool published = false;
        foreach (var e in events)
        {
            if (_phase == Phase.Closed)
            {
                break;
            }

            if (_phase is Phase.Held or Phase.ClosingChannels)
            {
                continue;
            }

            try
            {
                switch (e)
                {
                    case Command c when c.Channel == 0:
                        OnConnectionMethod(c.Method);
                        break;
                    case Command c:
                        published |= IsMessagePublish(c.Method);
                        OnChannelCommand(c);
                        break;
                    case HeartbeatReceived:
                        break;
                    case ProtocolHeaderReceived h:
                        OnProtocolHeader(h);
                        break;
                    case ProtocolError pe when pe.Error.IsConnectionError || pe.Channel == 0:
                        CloseWithError(pe.Error);
                        break;
                    case ProtocolError pe:
                        if (_channels.TryGetValue(pe.Channel, out var ch))
                        {
                            FlushChannelBatch();
                            ch.Tell(new ChannelProtocolError(pe.Error));
                        }

                        break;
                }
            }
            catch (AmqpException ex)
            {
                CloseWithError(ex);
            }
        }

        FlushChannelBatch();
        if (published && _alarmReason is not null && _phase == Phase.Open && !_blockedByAlarm)
        {
            BlockForAlarm();
        }

        if ((_blockedChannels.Count > 0 || _blockedByAlarm) && _phase != Phase.Closed)
        {
            // Some channel's queues are behind, or an alarm is in effect: read nothing more until that ends.
            _stalledStream = Sender;
        }
        else
        {
            Sender.Tell(StreamAck.Instance);
        }
    }

    /// <summary>
    /// RabbitMQ's resource alarms: a connection that publishes while one is in effect is no longer
    /// read (the publish that showed it is still handled) and hears connection.blocked if it asked
    /// to; one that only consumes goes on. Until then it is only "blocking".
    /// </summary>
    private void BlockForAlarm()
    {
        _blockedByAlarm = true;
        _stats.State = "blocked";
        _log.Info("AMQP connection {0} ({1}, vhost: '{2}', user: '{3}'): blocked ({4}): not read until the alarm clears",
            _name, _remote, _vhost, _user, _alarmReason);
        if (_blockedCapable && !_blockedSent)
        {
            _blockedSent = true;
            Send(new ConnectionBlocked { Reason = _alarmReason! });
        }
    }

    /// <summary>A basic.publish of a message: the admin endpoint's commands are not (an operator clearing an alarm must get through).</summary>
    private static bool IsMessagePublish(Method method) =>
        method is BasicPublish p && !(p.Exchange.Length == 0 && p.RoutingKey == ChannelActor.AdminRoutingKey);

    private void OnAlarmsChanged(AlarmsChanged changed)
    {
        _alarmReason = ResourceAlarms.BlockReason(changed.Alarms);
        if (_phase != Phase.Open)
        {
            return;
        }

        if (_alarmReason is not null)
        {
            if (!_blockedByAlarm)
            {
                _stats.State = "blocking";
            }

            return;
        }

        _stats.State = "running";
        if (!_blockedByAlarm)
        {
            return;
        }

        _blockedByAlarm = false;
        _log.Info("AMQP connection {0} ({1}, vhost: '{2}', user: '{3}'): unblocked: the alarms cleared", _name, _remote, _vhost, _user);
        if (_blockedSent)
        {
            _blockedSent = false;
            Send(new ConnectionUnblocked());
        }

        ResumeReading();
    }

    /// <summary>Acks the stalled read once neither a channel's flow control nor an alarm holds it.</summary>
    private void ResumeReading()
    {
        if (_blockedChannels.Count == 0 && !_blockedByAlarm && _stalledStream is { } stream)
        {
            _stalledStream = null;
            stream.Tell(StreamAck.Instance);
        }
    }

    private void OnChannelPublishFlow(ChannelPublishFlow flow)
    {
        if (flow.Blocked)
        {
            _blockedChannels.Add(Sender);
            return;
        }

        _blockedChannels.Remove(Sender);
        ResumeReading();
    }

    private void OnProtocolHeader(ProtocolHeaderReceived header)
    {
        _spokeAmqp = true;
        if (!header.IsAccepted)
        {
            _log.Warning("closing AMQP connection {0} ({1}): client sent an unsupported protocol header", _name, _remote);
            _outbound.Write(FrameWriter.ProtocolHeader);
            Drop();
            return;
        }

        _phase = Phase.AwaitingStartOk;
        Send(new ConnectionStart
        {
            VersionMajor = 0,
            VersionMinor = 9,
            ServerProperties = ServerProperties(),
            Mechanisms = System.Text.Encoding.UTF8.GetBytes(Authenticator.MechanismsFor(_certificateUser)),
            Locales = "en_US"u8.ToArray(),
        });
    }

    private void OnConnectionMethod(Method method)
    {
        switch (_phase, method)
        {
            case (Phase.AwaitingStartOk, ConnectionStartOk startOk):
                OnStartOk(startOk);
                break;
            case (Phase.AwaitingTuneOk, ConnectionTuneOk tuneOk):
                OnTuneOk(tuneOk);
                break;
            case (Phase.AwaitingOpen, ConnectionOpen open):
                OnOpen(open);
                break;
            case (Phase.Open or Phase.AwaitingOpen or Phase.AwaitingTuneOk, ConnectionClose close):
                _log.Info("closing AMQP connection {0} ({1}, vhost: '{2}', user: '{3}'): client closed it with {4} '{5}'",
                    _name, _remote, _vhost, _user, close.ReplyCode, close.ReplyText);
                NoteClose(close.ReplyCode, close.ReplyText, "client");
                CloseChannelsThenCloseOk();
                break;
            case (Phase.Closing, ConnectionCloseOk):
                Drop();
                break;
            case (Phase.Closing, ConnectionClose):
                Send(new ConnectionCloseOk());
                Drop();
                break;
            case (Phase.Closing, _):
                // After connection.close only close-ok (or a crossing close) matters.
                break;
            case (Phase.Open, ConnectionUpdateSecret):
                Send(new ConnectionUpdateSecretOk());
                break;
            default:
                // RabbitMQ's answer to any method channel 0 does not expect now, of whatever class.
                throw AmqpException.ChannelError($"unexpected {method.Name} in connection state {_phase}").For(method);
        }
    }

    private void OnStartOk(ConnectionStartOk startOk)
    {
        if (startOk.ClientProperties.TryGetValue("capabilities", out var caps) && caps is FieldTable capabilities)
        {
            _authFailureClose = capabilities.TryGetValue("authentication_failure_close", out var afc) && afc is true;
            _consumerCancelNotify = capabilities.TryGetValue("consumer_cancel_notify", out var ccn) && ccn is true;
            _blockedCapable = capabilities.TryGetValue("connection.blocked", out var cb) && cb is true;
        }

        _stats.AuthMechanism = startOk.Mechanism;
        _managementSession = startOk.ClientProperties.TryGetValue(InternalClientProperty, out var internalFlag) && internalFlag is true;
        _stats.Internal = _managementSession;
        _stats.ClientProperties = Management.FieldTableJson.ToJson(startOk.ClientProperties);
        var user = _authenticator.Authenticate(startOk.Mechanism, startOk.Response, _remote, _certificateUser, out var failure);
        string? named = Authenticator.UserNameOf(startOk.Mechanism, startOk.Response, _certificateUser);
        int failures = user is null ? _broker.LoginFailures.Failed(_remote, named) : 0;
        var delay = _broker.LoginFailures.DelayFor(_remote, named);
        if (user is null)
        {
            _log.Warning("AMQP connection {0} ({1}): {2} login refused: {3}{4}", _name, _remote, startOk.Mechanism, failure,
                delay > TimeSpan.Zero ? $" ({failures} failures for this user from this address in a row: answering in {delay.TotalSeconds:F0} s)" : string.Empty);
        }

        if (delay > TimeSpan.Zero)
        {
            // A success is held back as long as a refusal: a guesser learns nothing from the timing.
            _phase = Phase.Held;
            Timers.StartSingleTimer("login-answer", new LoginAnswer(user?.Name, startOk.Mechanism), delay);
            return;
        }

        AnswerLogin(user?.Name, startOk.Mechanism);
    }

    private void AnswerLogin(string? user, string mechanism)
    {
        if (user is null)
        {
            RefuseLogin(mechanism);
            return;
        }

        _user = user;
        _stats.User = user;
        _stats.State = "tuning";
        _phase = Phase.AwaitingTuneOk;
        Send(new ConnectionTune
        {
            ChannelMax = _broker.Settings.ChannelMax,
            FrameMax = (uint)_broker.Settings.FrameMax,
            Heartbeat = _broker.Settings.Heartbeat,
        });
    }

    private void OnTuneOk(ConnectionTuneOk tuneOk)
    {
        var s = _broker.Settings;
        if (tuneOk.ChannelMax > s.ChannelMax)
        {
            throw AmqpException.NotAllowed(
                $"negotiated channel_max = {tuneOk.ChannelMax} is higher than the maximum allowed value ({s.ChannelMax})");
        }

        if (tuneOk.FrameMax != 0 && tuneOk.FrameMax < FrameConstants.MinSize)
        {
            throw AmqpException.NotAllowed($"frame_max={tuneOk.FrameMax} < {FrameConstants.MinSize} min size");
        }

        if (tuneOk.FrameMax > s.FrameMax)
        {
            throw AmqpException.NotAllowed($"frame_max={tuneOk.FrameMax} > {s.FrameMax} max size");
        }

        _channelMax = tuneOk.ChannelMax == 0 ? s.ChannelMax : tuneOk.ChannelMax;
        _frameMax = tuneOk.FrameMax == 0 ? s.FrameMax : (int)tuneOk.FrameMax;
        _heartbeat = tuneOk.Heartbeat;
        _stats.ChannelMax = _channelMax;
        _stats.FrameMax = _frameMax;
        _stats.Heartbeat = _heartbeat;
        _stats.State = "opening";
        if (_heartbeat > 0)
        {
            Timers.StartPeriodicTimer("heartbeat", HeartbeatTick.Instance, TimeSpan.FromSeconds(_heartbeat));
        }

        _phase = Phase.AwaitingOpen;
    }

    private void RefuseLogin(string mechanism)
    {
        if (_authFailureClose)
        {
            _phase = Phase.AwaitingStartOk;
            CloseWithError(AmqpException.AccessRefused(
                $"Login was refused using authentication mechanism {mechanism}. For details see the broker logfile."));
        }
        else
        {
            Drop();
        }
    }

    private void OnOpen(ConnectionOpen open)
    {
        // RabbitMQ's connection_max: a node full of connections refuses more rather than run out of memory or descriptors.
        if (_broker.Settings.ConnectionMax is { } max && !_managementSession && _broker.Connections.OpenCount >= max)
        {
            throw AmqpException.NotAllowed($"connection refused: node connection limit ({max}) is reached");
        }

        var access = _broker.Access.Current;
        var vhost = access.FindVHost(open.VirtualHost) ?? throw AmqpException.NotAllowed($"vhost {open.VirtualHost} not found");
        // RabbitMQ checks the vhost's connection limit before the user's permissions there.
        if (vhost.MaxConnections >= 0 && _broker.Connections.ClusterCountIn(vhost.Name) >= vhost.MaxConnections)
        {
            throw AmqpException.NotAllowed(VHostLimits.ConnectionLimitText(vhost.Name, _user, vhost.MaxConnections));
        }

        if (!access.MayAccessVHost(_user, vhost.Name))
        {
            throw AmqpException.NotAllowed($"access to vhost '{vhost.Name}' refused for user '{_user}'");
        }

        _vhost = vhost.Name;
        // From here the registry counts it in its vhost (connection limits, a deleted vhost closes it).
        _stats.VHost = _vhost;
        _stats.State = _alarmReason is null ? "running" : "blocking";
        _phase = Phase.Open;
        Timers.Cancel("handshake");
        Send(new ConnectionOpenOk());
        _log.Info("connection {0} ({1}): user '{2}' authenticated and granted access to vhost '{3}'",
            _name, _remote, _user, _vhost);
    }

    private void OnChannelCommand(Command command)
    {
        if (_phase == Phase.Closing)
        {
            return;
        }

        if (_phase != Phase.Open)
        {
            // RabbitMQ: any frame on a channel other than 0 before the connection is open.
            throw AmqpException.UnexpectedFrame($"channel {command.Channel} used before the connection was opened");
        }

        if (command.Channel > _channelMax)
        {
            throw AmqpException.ChannelError($"channel {command.Channel} is above the negotiated channel_max {_channelMax}");
        }

        if (_channels.TryGetValue(command.Channel, out var channel))
        {
            if (command.Method is ChannelOpen)
            {
                throw AmqpException.ChannelError($"second 'channel.open' seen on channel {command.Channel}");
            }

            SendToChannel(channel, command);
            if (command.Method is ChannelClose or ChannelCloseOk)
            {
                // The channel finishes closing and stops; its number may be reused right away.
                _channels.Remove(command.Channel);
            }

            return;
        }

        switch (command.Method)
        {
            case ChannelOpen:
                var info = new ConnectionInfo(_name, Self, _vhost, _user, _frameMax, _consumerCancelNotify, _stats);
                var actor = Context.ActorOf(
                    Props.Create(() => new ChannelActor(_broker, info, command.Channel, _outbound)),
                    $"channel-{command.Channel}-{++_channelSeq}");
                _channels[command.Channel] = actor;
                _stats.Channels = _channels.Count;
                SendToChannel(actor, command);
                break;
            case ChannelCloseOk:
                // The close-ok of a channel whose number was already freed (the close crossed).
                break;
            default:
                // channel.close included: on a number never opened, RabbitMQ closes the connection with 504.
                throw AmqpException.ChannelError($"expected 'channel.open' on channel {command.Channel}, got {command.Method.Name}").For(command.Method);
        }
    }

    /// <summary>
    /// A channel's command raised a connection error. Also while the client's connection.close
    /// waits for the channels to answer what was sent before it: as in RabbitMQ (whose reader,
    /// closing, still answers a channel's hard error), the answer is then connection.close with
    /// the error, not close-ok, and the channels still answering are stopped.
    /// </summary>
    private void OnChannelConnectionError(AmqpException error)
    {
        if (_phase == Phase.ClosingChannels)
        {
            Timers.Cancel("channels-closed");
            foreach (var channel in _closingChannels)
            {
                Context.Stop(channel);
            }

            _closingChannels.Clear();
            _closeReason = null; // the error, not the client's close, is why it ends
            SendErrorClose(error);
            return;
        }

        CloseWithError(error);
    }

    private void CloseWithError(AmqpException error)
    {
        if (_phase is Phase.Closing or Phase.Closed or Phase.ClosingChannels)
        {
            // Already closing (a client's close being answered finishes within the close timeout).
            return;
        }

        SendErrorClose(error);
    }

    private void SendErrorClose(AmqpException error)
    {
        _log.Warning("closing AMQP connection {0} ({1}, vhost: '{2}', user: '{3}'): {4} {5}",
            _name, _remote, _vhost, _user, error.ReplyCode, error.ReplyText);
        NoteClose(error.ReplyCode, error.ReplyText, "broker");
        StopChannels();
        if (_phase == Phase.AwaitingHeader)
        {
            Drop();
            return;
        }

        Send(new ConnectionClose
        {
            ReplyCode = error.ReplyCode,
            ReplyText = error.ReplyText,
            FailingClassId = error.ClassId,
            FailingMethodId = error.MethodId,
        });
        _phase = Phase.Closing;
        Timers.StartSingleTimer("close", CloseTimeout.Instance, _broker.Settings.CloseTimeout);
    }

    private void OnHeartbeatTick()
    {
        if (_stalledStream is not null)
        {
            // We are not reading the socket, so the client's heartbeats cannot be seen: not its fault.
            _lastReceived = Environment.TickCount64;
        }

        if (Environment.TickCount64 - _lastReceived > 2L * _heartbeat * 1000)
        {
            _log.Warning("closing AMQP connection {0} ({1}, vhost: '{2}', user: '{3}'): missed heartbeats from client, timeout: {4}s",
                _name, _remote, _vhost, _user, _heartbeat);
            NoteClose(0, $"missed heartbeats from client, timeout: {_heartbeat}s", "broker");
            StopChannels();
            Drop();
            return;
        }

        _outbound.Write(FrameWriter.HeartbeatFrame);
    }

    private void OnSocketClosed(Exception? cause)
    {
        if (_phase != Phase.Closed)
        {
            if (cause is null)
            {
                _log.Info("AMQP connection {0} ({1}, vhost: '{2}', user: '{3}'): client closed the socket{4}",
                    _name, _remote, _vhost, _user, _phase == Phase.Closing ? string.Empty : " without connection.close");
                NoteClose(0, "client unexpectedly closed TCP connection", "client");
            }
            else
            {
                _log.Warning("AMQP connection {0} ({1}, vhost: '{2}', user: '{3}') failed: {4}", _name, _remote, _vhost, _user, cause.Message);
                NoteClose(0, $"connection failed: {cause.Message}", "client");
            }
        }

        _phase = Phase.Closed;
        _outbound.Complete();
        Context.Stop(Self);
    }

    /// <summary>
    /// A client's connection.close: its channels first answer what they were asked before it (a
    /// queue.delete in flight gets its delete-ok, as in RabbitMQ), then close-ok goes out; a
    /// channel that cannot answer within the close timeout is stopped.
    /// </summary>
    private void CloseChannelsThenCloseOk()
    {
        FlushChannelBatch();
        _phase = Phase.ClosingChannels;
        foreach (var channel in _channels.Values)
        {
            Context.Watch(channel);
            channel.Tell(ConnectionClosing.Instance);
        }

        _closingChannels = _channels.Values.ToHashSet();
        _channels.Clear();
        if (_closingChannels.Count == 0)
        {
            SendCloseOk();
            return;
        }

        Timers.StartSingleTimer("channels-closed", ChannelsCloseTimeout.Instance, _broker.Settings.CloseTimeout);
    }

    private void OnChannelStopped(IActorRef channel)
    {
        if (_phase == Phase.ClosingChannels && _closingChannels.Remove(channel) && _closingChannels.Count == 0)
        {
            Timers.Cancel("channels-closed");
            SendCloseOk();
        }
    }

    private void SendCloseOk()
    {
        foreach (var channel in _closingChannels)
        {
            Context.Stop(channel);
        }

        _closingChannels.Clear();
        Send(new ConnectionCloseOk());
        AwaitClientSocketClose();
    }

    /// <summary>
    /// After close-ok to a client's connection.close the socket stays open until the client closes
    /// it, as RabbitMQ does: what the client still sends is read and discarded (a client publishing
    /// up to its close would otherwise get EPIPE and never see its close complete). One that never
    /// closes is dropped after the close timeout.
    /// </summary>
    private void AwaitClientSocketClose()
    {
        _phase = Phase.Closed;
        // Read on (and discard), so the client's closing of the socket is seen.
        _blockedChannels.Clear();
        _blockedByAlarm = false;
        ResumeReading();

        Timers.Cancel("heartbeat");
        Timers.StartSingleTimer("close", CloseTimeout.Instance, _broker.Settings.CloseTimeout);
    }

    private void NoteClose(int code, string text, string initiatedBy) => _closeReason ??= Closed(code, text, initiatedBy);

    private Stats.ClosedConnection Closed(int code, string text, string initiatedBy)
    {
        _stats.State = "closed";
        return new Stats.ClosedConnection(_name, _user, _vhost, _stats.PeerHost, _stats.PeerPort, code, text,
            DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), initiatedBy);
    }

    /// <summary>Flushes what is queued, closes the socket and stops (channels stop with us).</summary>
    private void Drop()
    {
        _phase = Phase.Closed;
        _outbound.Complete();
        Context.Stop(Self);
    }

    /// <summary>
    /// Commands for the same channel that follow one another in a read go to it as one message:
    /// one mailbox hop per read and channel instead of one per frame (publishes arrive in runs).
    /// </summary>
    private void SendToChannel(IActorRef channel, Command command)
    {
        if (!channel.Equals(_batchTarget))
        {
            FlushChannelBatch();
            _batchTarget = channel;
        }

        (_batch ??= new List<Command>()).Add(command);
    }

    private void FlushChannelBatch()
    {
        if (_batch is { Count: > 0 } batch)
        {
            _batchTarget!.Tell(new ChannelCommands(batch));
        }

        _batch = null;
        _batchTarget = null;
    }

    private void StopChannels()
    {
        FlushChannelBatch();
        foreach (var ch in _channels.Values)
        {
            Context.Stop(ch);
        }

        _channels.Clear();
    }

    private void Send(Method method) => SendOn(0, method);

    private void SendOn(ushort channel, Method method)
    {
        _writer.Reset();
        FrameWriter.WriteMethod(_writer, channel, method);
        _outbound.Write(_writer.ToArray());
    }

    private FieldTable ServerProperties() => new()
    {
        ["product"] = "Broker",
        ["version"] = Version,
        ["platform"] = ".NET " + Environment.Version,
        ["copyright"] = "The Broker authors",
        ["information"] = "AMQP 0-9-1 broker on Akka.NET",
        ["cluster_name"] = _broker.Settings.ClusterName,
        ["capabilities"] = new FieldTable
        {
            ["publisher_confirms"] = true,
            ["exchange_exchange_bindings"] = true,
            ["basic.nack"] = true,
            ["consumer_cancel_notify"] = true,
            ["connection.blocked"] = true,
            ["consumer_priorities"] = true,
            ["authentication_failure_close"] = true,
            ["per_consumer_qos"] = true,
            ["direct_reply_to"] = true,
        },
    };

    private sealed class HeartbeatTick : INoSerializationVerificationNeeded
    {
        public static readonly HeartbeatTick Instance = new();
    }

    private sealed class HandshakeTimeout : INoSerializationVerificationNeeded
    {
        public static readonly HandshakeTimeout Instance = new();
    }

    private sealed class CloseTimeout : INoSerializationVerificationNeeded
    {
        public static readonly CloseTimeout Instance = new();
    }

    /// <summary>A held-back login answer: the user logged in, or null for a refusal.</summary>
    private sealed class ChannelsCloseTimeout : INoSerializationVerificationNeeded
    {
        public static readonly ChannelsCloseTimeout Instance = new();
    }

    private sealed record LoginAnswer(string? User, string Mechanism) : INoSerializationVerificationNeeded;
}
