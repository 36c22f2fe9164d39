using System.Text;
using System.Text.Json.Nodes;
using Broker.Actors.Management;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Broker.Node.Management;

/// <summary>POST /api/queues/{vhost}/{name}/get and /api/exchanges/{vhost}/{name}/publish: messages in and out over HTTP.</summary>
public static class MessagesApi
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Gets up to count messages; ack_requeue_true and reject_requeue_true put them all back afterwards, as RabbitMQ does.</summary>
    public static async Task Get(ApiRequest request)
    {
        var queue = QueuesApi.Find(request, request["vhost"], request["name"]);
        var body = await request.BodyAsync();
        long count = ApiBody.Number(body, "count", 1);
        string ackMode = ApiBody.Text(body, "ackmode") ?? "ack_requeue_true";
        string encoding = ApiBody.Text(body, "encoding") ?? "auto";
        long truncate = Math.Max(0, ApiBody.Number(body, "truncate", long.MaxValue));
        if (ackMode is not ("ack_requeue_true" or "ack_requeue_false" or "reject_requeue_true" or "reject_requeue_false"))
        {
            throw ApiException.BadRequest($"unknown ackmode '{ackMode}'");
        }

        if (encoding is not ("auto" or "base64"))
        {
            throw ApiException.BadRequest($"unknown encoding '{encoding}'");
        }

        var messages = await AmqpSession.RunAsync(request, queue.Definition.VHost, async (channel, ct) =>
        {
            var result = new JsonArray();
            ulong last = 0;
            for (long i = 0; i < Math.Clamp(count, 0, 10_000); i++)
            {
                if (await channel.BasicGetAsync(queue.Name, autoAck: false, ct) is not { } got)
                {
                    break;
                }

                last = got.DeliveryTag;
                result.Add(MessageJson(got, encoding, truncate));
            }

            if (last > 0)
            {
                if (ackMode == "ack_requeue_false")
                {
                    await channel.BasicAckAsync(last, multiple: true, ct);
                }
                else
                {
                    await channel.BasicNackAsync(last, multiple: true, requeue: ackMode.EndsWith("_true", StringComparison.Ordinal), ct);
                }
            }

            return result;
        });
        await request.Json(messages);
    }

    /// <summary>Publishes one message; answers {"routed": bool} (false when no queue took it).</summary>
    public static async Task Publish(ApiRequest request)
    {
        string vhost = request["vhost"];
        string exchange = request["name"] == "amq.default" ? string.Empty : request["name"];
        request.User.RequireVHost(request.Access, vhost);
        if (exchange.Length > 0 && request.Node.Broker.Context.Routes.Find(vhost, exchange) is null)
        {
            throw ApiException.NotFound();
        }

        var body = await request.BodyAsync();
        string routingKey = ApiBody.Text(body, "routing_key") ?? throw ApiException.BadRequest("routing_key is missing");
        string payload = ApiBody.Text(body, "payload") ?? throw ApiException.BadRequest("payload is missing");
        byte[] bytes;
        switch (ApiBody.Text(body, "payload_encoding") ?? "string")
        {
            case "string":
                bytes = Encoding.UTF8.GetBytes(payload);
                break;
            case "base64":
                try
                {
                    bytes = Convert.FromBase64String(payload);
                }
                catch (FormatException)
                {
                    throw ApiException.BadRequest("payload is not valid base64");
                }

                break;
            default:
                throw ApiException.BadRequest("payload_encoding must be string or base64");
        }

        var properties = Properties(body["properties"] as JsonObject ?? new JsonObject());
        bool routed = await AmqpSession.RunAsync(request, vhost, async (channel, ct) =>
        {
            try
            {
                await channel.BasicPublishAsync(exchange, routingKey, mandatory: true, properties, bytes, ct);
                return true;
            }
            catch (PublishException e) when (e.IsReturn)
            {
                return false;
            }
        }, confirms: true);
        await request.Json(new JsonObject { ["routed"] = routed });
    }

    private static JsonObject MessageJson(BasicGetResult got, string encoding, long truncate)
    {
        var body = got.Body.Span;
        var shown = body[..(int)Math.Min(body.Length, truncate)];
        string? text = null;
        if (encoding == "auto")
        {
            try
            {
                text = StrictUtf8.GetString(shown);
            }
            catch (DecoderFallbackException)
            {
                text = null;
            }
        }

        return new JsonObject
        {
            ["payload_bytes"] = body.Length,
            ["redelivered"] = got.Redelivered,
            ["exchange"] = got.Exchange,
            ["routing_key"] = got.RoutingKey,
            ["message_count"] = got.MessageCount,
            ["properties"] = PropertiesJson(got.BasicProperties),
            ["payload"] = text ?? Convert.ToBase64String(shown),
            ["payload_encoding"] = text is null ? "base64" : "string",
        };
    }

    private static JsonObject PropertiesJson(IReadOnlyBasicProperties p)
    {
        var json = new JsonObject();
        void Text(string key, string? value)
        {
            if (value is not null)
            {
                json[key] = value;
            }
        }

        Text("content_type", p.ContentType);
        Text("content_encoding", p.ContentEncoding);
        if (p.IsHeadersPresent() && p.Headers is { } headers)
        {
            json["headers"] = FieldTableJson.ToJson(headers.ToDictionary(h => h.Key, h => h.Value));
        }

        if (p.IsDeliveryModePresent())
        {
            json["delivery_mode"] = (int)p.DeliveryMode;
        }

        if (p.IsPriorityPresent())
        {
            json["priority"] = p.Priority;
        }

        Text("correlation_id", p.CorrelationId);
        Text("reply_to", p.ReplyTo);
        Text("expiration", p.Expiration);
        Text("message_id", p.MessageId);
        if (p.IsTimestampPresent())
        {
            json["timestamp"] = p.Timestamp.UnixTime;
        }

        Text("type", p.Type);
        Text("user_id", p.UserId);
        Text("app_id", p.AppId);
        return json;
    }

    private static BasicProperties Properties(JsonObject json)
    {
        var p = new BasicProperties();
        foreach (var (key, _) in json)
        {
            switch (key)
            {
                case "content_type": p.ContentType = ApiBody.Text(json, key); break;
                case "content_encoding": p.ContentEncoding = ApiBody.Text(json, key); break;
                case "correlation_id": p.CorrelationId = ApiBody.Text(json, key); break;
                case "reply_to": p.ReplyTo = ApiBody.Text(json, key); break;
                case "expiration": p.Expiration = ApiBody.Text(json, key); break;
                case "message_id": p.MessageId = ApiBody.Text(json, key); break;
                case "type": p.Type = ApiBody.Text(json, key); break;
                case "user_id": p.UserId = ApiBody.Text(json, key); break;
                case "app_id": p.AppId = ApiBody.Text(json, key); break;
                case "delivery_mode": p.DeliveryMode = ApiBody.Number(json, key, 1) == 2 ? DeliveryModes.Persistent : DeliveryModes.Transient; break;
                case "priority": p.Priority = (byte)Math.Clamp(ApiBody.Number(json, key, 0), 0, 255); break;
                case "timestamp": p.Timestamp = new AmqpTimestamp(ApiBody.Number(json, key, 0)); break;
                case "headers":
                    p.Headers = ApiBody.Arguments(json, key).ToDictionary(h => h.Key, h => h.Value);
                    break;
                default:
                    throw ApiException.BadRequest($"unknown message property '{key}'");
            }
        }

        return p;
    }
}
