using Akka.Event;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Broker.Node.Management;

/// <summary>The /api routes and how a request is run: authenticate, find the route, answer errors as RabbitMQ does.</summary>
public static class ManagementApi
{
    public static ApiRouter Build()
    {
        var router = new ApiRouter();
        OverviewApi.Map(router);
        ConnectionsApi.Map(router);
        ExchangesApi.Map(router);
        QueuesApi.Map(router);
        BindingsApi.Map(router);
        AccessApi.Map(router);
        PoliciesApi.Map(router);
        DefinitionsApi.Map(router);
        return router;
    }

    public static async Task HandleAsync(HttpContext http, ApiRouter router, ManagementNode node)
    {
        string raw = http.Features.Get<IHttpRequestFeature>()?.RawTarget ?? http.Request.Path.Value ?? "/api";
        try
        {
            var (handler, values, pathKnown) = router.Find(http.Request.Method, ApiRouter.Segments(raw));
            if (handler is null)
            {
                if (pathKnown)
                {
                    http.Response.StatusCode = 405;
                    return;
                }

                throw ApiException.NotFound();
            }

            RefuseCrossSiteWrite(http);
            var user = await ApiAuthentication.AuthenticateAsync(http, node);
            await handler(new ApiRequest(http, values, user, node));
        }
        catch (ApiException e)
        {
            await WriteErrorAsync(http, e.Status, e.Error, e.Message);
        }
        catch (AmqpOperationException e)
        {
            await WriteErrorAsync(http, e.Status, e.Error, e.Message);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (Exception e)
        {
            node.Broker.Actors.Log.Error(e, "HTTP API {0} {1} failed", http.Request.Method, raw);
            await WriteErrorAsync(http, 500, "internal_error", e.Message);
        }
    }

    /// <summary>
    /// A browser sends Origin (and Sec-Fetch-Site) with a write from a page; one from another site
    /// must not act with credentials the browser remembered for this one. Tools send neither.
    /// </summary>
    private static void RefuseCrossSiteWrite(HttpContext http)
    {
        if (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method))
        {
            return;
        }

        string origin = http.Request.Headers.Origin.ToString();
        bool foreignOrigin = origin.Length > 0 && (!Uri.TryCreate(origin, UriKind.Absolute, out var o) ||
                                                   !string.Equals(o.Authority, http.Request.Host.Value, StringComparison.OrdinalIgnoreCase));
        if (foreignOrigin || http.Request.Headers["Sec-Fetch-Site"] == "cross-site")
        {
            throw new ApiException(403, "forbidden", "cross-site request refused");
        }
    }

    private static async Task WriteErrorAsync(HttpContext http, int status, string error, string reason)
    {
        if (http.Response.HasStarted)
        {
            return;
        }

        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(new System.Text.Json.Nodes.JsonObject { ["error"] = error, ["reason"] = reason }.ToJsonString());
    }
}
