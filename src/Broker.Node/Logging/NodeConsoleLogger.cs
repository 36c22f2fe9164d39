using Akka.Event;

namespace Broker.Node.Logging;

/// <summary>
/// The node's log on stdout (akka.loggers in hocon/akka.conf). Start-up is for a person: the banner
/// Program prints, and what the broker itself says. Akka's own INFO lines (remoting, the cluster
/// daemon, sharding coordinators, singletons, the TCP listeners: pages of them at every start) are
/// shown only when BROKER_LOG_LEVEL is DEBUG; Akka's warnings and errors always are.
/// </summary>
public sealed class NodeConsoleLogger : DefaultLogger
{
    /// <summary>The broker's string-named loggers (Logging.GetLogger(system, name)) and the actor system's own log, which the broker writes to.</summary>
    private static readonly string[] BrokerSources = { "broker (", "topology (", "freeze-watchdog (" };

    private readonly bool _akkaInfo = string.Equals(Context.System.Settings.LogLevel, "DEBUG", StringComparison.OrdinalIgnoreCase);

    protected override void Print(LogEvent logEvent)
    {
        if (logEvent is Info && !_akkaInfo && IsAkkas(logEvent))
        {
            return;
        }

        base.Print(logEvent);
    }

    /// <summary>A line written by Akka itself: its class is Akka's, or it is a string-named logger that is not one of the broker's.</summary>
    private static bool IsAkkas(LogEvent e)
    {
        if (e.LogClass == typeof(DummyClassForStringSources))
        {
            return !BrokerSources.Any(s => e.LogSource.StartsWith(s, StringComparison.Ordinal));
        }

        return e.LogClass?.Assembly.GetName().Name?.StartsWith("Akka", StringComparison.Ordinal) ?? false;
    }
}
