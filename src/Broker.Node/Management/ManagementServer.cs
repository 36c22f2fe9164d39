using System.Net;
using Akka.Event;
using Broker.Actors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;

namespace Broker.Node.Management;

/// <summary>
/// The node's HTTP side, on Kestrel next to the actor system: RabbitMQ's management API under
/// /api, the web UI at /, and Prometheus metrics at /metrics (also alone on the Prometheus port).
/// Every node serves the whole cluster's view.
/// </summary>
public sealed class ManagementServer : IAsyncDisposable
{
    private const string ListenerKey = "broker.listener";

    private readonly WebApplication _app;

    private ManagementServer(WebApplication app, ManagementNode node)
    {
        _app = app;
        Node = node;
    }

    public ManagementNode Node { get; }

    /// <summary>The management API's address (null when off).</summary>
    public IPEndPoint? Endpoint { get; private set; }

    /// <summary>The Prometheus-only listener's address (null when off).</summary>
    public IPEndPoint? PrometheusEndpoint { get; private set; }

    public static async Task<ManagementServer?> StartAsync(ManagementSettings settings, BrokerServer broker)
    {
        if (settings.Port is null && settings.PrometheusPort is null)
        {
            return null;
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            if (settings.Port is int port)
            {
                kestrel.Listen(settings.BindAddress, port, l => l.Use(next => c =>
                {
                    c.Items[ListenerKey] = "management";
                    return next(c);
                }));
            }

            if (settings.PrometheusPort is int prometheus)
            {
                kestrel.Listen(settings.BindAddress, prometheus, l => l.Use(next => c =>
                {
                    c.Items[ListenerKey] = "prometheus";
                    return next(c);
                }));
            }
        });
        var app = builder.Build();
        var node = new ManagementNode(broker);
        var server = new ManagementServer(app, node);
        var api = ManagementApi.Build();
        string ui = Path.Combine(AppContext.BaseDirectory, "ui");
        app.Use(async (http, next) =>
        {
            bool prometheusOnly = http.Features.Get<IConnectionItemsFeature>()?.Items[ListenerKey] as string == "prometheus";
            string path = http.Request.Path.Value ?? "/";
            if (path is "/metrics" or "/metrics/per-object")
            {
                await PrometheusMetrics.WriteAsync(http, node);
                return;
            }

            if (prometheusOnly)
            {
                http.Response.StatusCode = 404;
                return;
            }

            if (path == "/api" || path.StartsWith("/api/", StringComparison.Ordinal))
            {
                await ManagementApi.HandleAsync(http, api, node);
                return;
            }

            await next(http);
        });
        if (Directory.Exists(ui))
        {
            var files = new PhysicalFileProvider(ui);
            app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
            app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
        }

        try
        {
            await app.StartAsync();
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            throw new ConfigurationException("broker.management.port", "BROKER_MANAGEMENT_PORT",
                $"cannot listen on {settings.BindAddress} port {settings.Port?.ToString() ?? "-"} / {settings.PrometheusPort?.ToString() ?? "-"}: {e.Message}");
        }

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a)).Select(u => new IPEndPoint(settings.BindAddress, u.Port)).ToList();
        // Kestrel reports the addresses in the order they were added.
        int next = 0;
        if (settings.Port is not null)
        {
            server.Endpoint = addresses[next++];
        }

        if (settings.PrometheusPort is not null)
        {
            server.PrometheusEndpoint = addresses[next];
        }

        broker.Actors.Log.Debug("Management API and web UI on http://{0}/{1}", server.Endpoint?.ToString() ?? "(off)",
            server.PrometheusEndpoint is { } p ? $", Prometheus metrics on http://{p}/metrics" : string.Empty);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
