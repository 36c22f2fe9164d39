using System.Net;
using System.Text.Json.Nodes;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using static Broker.EndToEnd.Tests.ClientHelpers;
using static Broker.EndToEnd.Tests.ManagementClient;

namespace Broker.EndToEnd.Tests;

/// <summary>A node of its own for the management API tests (they add users and vhosts).</summary>
public sealed class ManagementFixture : BrokerFixture
{
    public ManagementClient Api(string user = "guest", string password = "guest") => new(ManagementUri, user, password);
}

/// <summary>
/// The management HTTP API against a real node, driven over HTTP like scripts and tools drive
/// RabbitMQ's, with real AMQP clients making the traffic it reports: paths, fields and status codes
/// as RabbitMQ answers them (captured in tests/interop/management-rabbitmq).
/// </summary>
public sealed class ManagementApiTests : IClassFixture<ManagementFixture>
{
    private readonly ManagementFixture _broker;

    public ManagementApiTests(ManagementFixture broker) => _broker = broker;

    [Fact]
    public async Task Overview_names_the_node_and_counts_the_objects()
    {
        using var api = _broker.Api();
        var overview = await api.GetAsync("api/overview");
        Assert.Equal("3.10.8", (string?)overview["rabbitmq_version"]);
        Assert.Equal(_broker.Server.Context.Settings.NodeName, (string?)overview["node"]);
        Assert.True((int)overview["object_totals"]!["exchanges"]! >= 6);
        Assert.NotNull(overview["queue_totals"]!["messages"]);
        Assert.NotNull(overview["message_stats"]!["publish_details"]!["rate"]);
        var listener = overview["listeners"]!.AsArray().Single(l => (string?)l!["protocol"] == "amqp");
        Assert.Equal(_broker.Port, (int)listener!["port"]!);
    }

    [Fact]
    public async Task Wrong_password_no_credentials_and_users_without_management_tags_get_401_as_from_RabbitMQ()
    {
        using var wrong = _broker.Api("guest", "nope");
        var (status, body, response) = await wrong.SendAsync(HttpMethod.Get, "api/overview");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("not_authorized", (string?)body!["error"]);
        Assert.Equal("Login failed", (string?)body["reason"]);
        Assert.Equal("Basic realm=\"RabbitMQ Management\"", response.Headers.WwwAuthenticate.ToString());

        using var anonymous = new HttpClient { BaseAddress = _broker.ManagementUri };
        var plain = await anonymous.GetAsync("api/queues");
        Assert.Equal(HttpStatusCode.Unauthorized, plain.StatusCode);

        using var admin = _broker.Api();
        string user = UniqueName("plain");
        Assert.Equal(HttpStatusCode.Created, await admin.StatusOf(HttpMethod.Put, $"api/users/{user}", new JsonObject { ["password"] = "pw", ["tags"] = "" }));
        using var untagged = _broker.Api(user, "pw");
        (status, body, _) = await untagged.SendAsync(HttpMethod.Get, "api/overview");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("not_authorised", (string?)body!["error"]);
        Assert.Equal("Not management user", (string?)body["reason"]);
    }

    [Fact]
    public async Task A_queue_declared_over_AMQP_shows_its_depth_consumers_and_message_rates()
    {
        string queue = UniqueName("depth");
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        await ch.QueueDeclareAsync(queue, durable: false, exclusive: false, autoDelete: false);
        for (int i = 0; i < 5; i++)
        {
            await ch.BasicPublishAsync("", queue, Body($"m{i}"));
        }

        using var api = _broker.Api();
        JsonNode q = null!;
        await Wait.Until(async () => (int?)(q = await api.GetAsync($"api/queues/%2F/{Seg(queue)}"))["messages_ready"] == 5, "5 ready in the API");
        Assert.Equal(queue, (string?)q["name"]);
        Assert.Equal("/", (string?)q["vhost"]);
        Assert.Equal("running", (string?)q["state"]);
        Assert.Equal(_broker.Server.Context.Settings.NodeName, (string?)q["node"]);
        Assert.Equal(5, (long)q["message_stats"]!["publish"]!);

        await using var consumerChannel = await conn.CreateChannelAsync();
        await consumerChannel.BasicQosAsync(0, 2, false);
        var (tag, deliveries) = await ConsumeAsync(consumerChannel, queue, autoAck: false);
        await deliveries.NextAsync();
        await deliveries.NextAsync();
        await Wait.Until(async () =>
        {
            q = await api.GetAsync($"api/queues/%2F/{Seg(queue)}");
            return (int?)q["consumers"] == 1 && (int?)q["messages_unacknowledged"] == 2 && (int?)q["messages_ready"] == 3;
        }, "a consumer holding 2 unacked, 3 ready");
        Assert.Equal(5, (int)q["messages"]!);
        Assert.Equal(tag, (string?)q["consumer_details"]!.AsArray().Single()!["consumer_tag"]);

        var consumers = (await api.GetAsync("api/consumers/%2F")).AsArray();
        var consumer = consumers.Single(c => (string?)c!["consumer_tag"] == tag)!;
        Assert.Equal(queue, (string?)consumer["queue"]!["name"]);
        Assert.True((bool)consumer["ack_required"]!);
        Assert.Equal(2, (int)consumer["prefetch_count"]!);

        var channels = (await api.GetAsync("api/channels")).AsArray();
        Assert.Contains(channels, c => (int?)c!["consumer_count"] == 1 && (int?)c["messages_unacknowledged"] == 2 && (int?)c["prefetch_count"] == 2);

        // Listed with the others, and paged as RabbitMQ pages.
        var all = (await api.GetAsync("api/queues")).AsArray();
        Assert.Contains(all, x => (string?)x!["name"] == queue);
        var page = await api.GetAsync($"api/queues?page=1&page_size=1&name={Seg(queue)}");
        Assert.Equal(1, (int)page["filtered_count"]!);
        Assert.Equal(queue, (string?)page["items"]![0]!["name"]);
    }

    [Fact]
    public async Task Queues_are_declared_and_deleted_with_RabbitMQs_status_codes_and_errors()
    {
        using var api = _broker.Api();
        string queue = UniqueName("put");
        string path = $"api/queues/%2F/{Seg(queue)}";
        var body = new JsonObject { ["durable"] = "true", ["auto_delete"] = false, ["arguments"] = new JsonObject { ["x-message-ttl"] = 60000 } };
        Assert.Equal(HttpStatusCode.Created, await api.StatusOf(HttpMethod.Put, path, body));
        Assert.Equal(HttpStatusCode.NoContent, await api.StatusOf(HttpMethod.Put, path, body.DeepClone()));
        var q = await api.GetAsync(path);
        Assert.True((bool)q["durable"]!);
        Assert.Equal(60000, (long)q["arguments"]!["x-message-ttl"]!);

        var (status, error, _) = await api.SendAsync(HttpMethod.Put, path,
            new JsonObject { ["durable"] = true, ["arguments"] = new JsonObject { ["x-message-ttl"] = 1000 } });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("bad_request", (string?)error!["error"]);
        Assert.StartsWith("inequivalent arg 'x-message-ttl' for queue", (string?)error["reason"]);

        (status, error, _) = await api.SendAsync(HttpMethod.Put, path, new JsonObject { ["durable"] = "maybe" });
        Assert.Equal(HttpStatusCode.BadRequest, status);

        await using (var conn = await _broker.ConnectAsync())
        await using (var ch = await conn.CreateChannelAsync())
        {
            await ch.BasicPublishAsync("", queue, Body("keep"));
        }

        await Wait.Until(async () => (int?)(await api.GetAsync(path))["messages"] == 1, "the message counted");
        (status, error, _) = await api.SendAsync(HttpMethod.Delete, path + "?if-empty=true");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("not empty", (string?)error!["reason"]);

        Assert.Equal(HttpStatusCode.NoContent, await api.StatusOf(HttpMethod.Delete, path + "/contents"));
        await Wait.Until(async () => (int?)(await api.GetAsync(path))["messages"] == 0, "purged");
        Assert.Equal(HttpStatusCode.NoContent, await api.StatusOf(HttpMethod.Delete, path));
        (status, error, _) = await api.SendAsync(HttpMethod.Get, path);
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("Object Not Found", (string?)error!["error"]);
        Assert.Equal("Not Found", (string?)error["reason"]);
        Assert.Equal(HttpStatusCode.NotFound, await api.StatusOf(HttpMethod.Delete, path));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, await api.StatusOf(HttpMethod.Post, path));
    }

    [Fact]
    public async Task Exchanges_bindings_publish_and_get_work_end_to_end_with_an_AMQP_consumer()
    {
        using var api = _broker.Api();
        string exchange = UniqueName("x");
        string queue = UniqueName("q");
        Assert.Equal(HttpStatusCode.Created, await api.StatusOf(HttpMethod.Put, $"api/exchanges/%2F/{exchange}",
            new JsonObject { ["type"] = "topic", ["durable"] = false }));
        Assert.Equal(HttpStatusCode.Created, await api.StatusOf(HttpMethod.Put, $"api/queues/%2F/{queue}", new JsonObject { ["durable"] = false }));
        var (status, _, response) = await api.SendAsync(HttpMethod.Post, $"api/bindings/%2F/e/{exchange}/q/{queue}",
            new JsonObject { ["routing_key"] = "orders.#", ["arguments"] = new JsonObject() });
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal($"{queue}/orders.%23", response.Headers.Location!.OriginalString);

        var bindings = (await api.GetAsync($"api/queues/%2F/{queue}/bindings")).AsArray();
        Assert.Equal(2, bindings.Count); // the default exchange's, then ours
        Assert.Equal("", (string?)bindings[0]!["source"]);
        var ours = bindings[1]!;
        Assert.Equal("orders.#", (string?)ours["routing_key"]);
        Assert.Equal("queue", (string?)ours["destination_type"]);
        Assert.Single((await api.GetAsync($"api/exchanges/%2F/{exchange}/bindings/source")).AsArray());

        var (routed, _, _) = await api.SendAsync(HttpMethod.Post, $"api/exchanges/%2F/{exchange}/publish", new JsonObject
        {
            ["properties"] = new JsonObject { ["delivery_mode"] = 2, ["headers"] = new JsonObject { ["h"] = "v" }, ["content_type"] = "text/plain" },
            ["routing_key"] = "orders.new",
            ["payload"] = "first",
            ["payload_encoding"] = "string",
        });
        Assert.Equal(HttpStatusCode.OK, routed);
        var unroutable = await api.SendAsync(HttpMethod.Post, $"api/exchanges/%2F/{exchange}/publish",
            new JsonObject { ["properties"] = new JsonObject(), ["routing_key"] = "nothing", ["payload"] = "lost", ["payload_encoding"] = "string" });
        Assert.False((bool)unroutable.Body!["routed"]!);

        // get with ack_requeue_true leaves it there; ack_requeue_false takes it.
        var got = (await api.SendAsync(HttpMethod.Post, $"api/queues/%2F/{queue}/get",
            new JsonObject { ["count"] = "5", ["ackmode"] = "ack_requeue_true", ["encoding"] = "auto" })).Body!.AsArray();
        var m = Assert.Single(got)!;
        Assert.Equal("first", (string?)m["payload"]);
        Assert.Equal("string", (string?)m["payload_encoding"]);
        Assert.Equal(exchange, (string?)m["exchange"]);
        Assert.Equal("orders.new", (string?)m["routing_key"]);
        Assert.Equal(2, (int)m["properties"]!["delivery_mode"]!);
        Assert.Equal("v", (string?)m["properties"]!["headers"]!["h"]);
        got = (await api.SendAsync(HttpMethod.Post, $"api/queues/%2F/{queue}/get",
            new JsonObject { ["count"] = 1, ["ackmode"] = "ack_requeue_false", ["encoding"] = "auto" })).Body!.AsArray();
        Assert.True((bool)got.Single()!["redelivered"]!);
        Assert.Empty((await api.SendAsync(HttpMethod.Post, $"api/queues/%2F/{queue}/get",
            new JsonObject { ["count"] = 1, ["ackmode"] = "ack_requeue_false" })).Body!.AsArray());

        // Published from the API, delivered to an AMQP consumer.
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        var (_, deliveries) = await ConsumeAsync(ch, queue, autoAck: true);
        await api.SendAsync(HttpMethod.Post, "api/exchanges/%2F/amq.default/publish",
            new JsonObject { ["properties"] = new JsonObject(), ["routing_key"] = queue, ["payload"] = "aGk=", ["payload_encoding"] = "base64" });
        Assert.Equal("hi", Text((await deliveries.NextAsync()).Body));

        await Wait.Until(async () =>
        {
            var x = await api.GetAsync($"api/exchanges/%2F/{exchange}");
            return (long?)x["message_stats"]?["publish_in"] == 2 && (long?)x["message_stats"]?["publish_out"] == 1;
        }, "the exchange's publish_in 2, publish_out 1");

        string props = (string)ours["properties_key"]!;
        Assert.Equal(HttpStatusCode.NoContent, await api.StatusOf(HttpMethod.Delete, $"api/bindings/%2F/e/{exchange}/q/{queue}/{Seg(props)}"));
        Assert.Single((await api.GetAsync($"api/queues/%2F/{queue}/bindings")).AsArray());
        Assert.Equal(HttpStatusCode.NoContent, await api.StatusOf(HttpMethod.Delete, $"api/exchanges/%2F/{exchange}"));
        Assert.Equal(HttpStatusCode.NotFound, await api.StatusOf(HttpMethod.Get, $"api/exchanges/%2F/{exchange}"));
    }

    [Fact]
    public async Task A_connection_is_listed_with_its_client_name_and_DELETE_closes_it_with_320_and_the_given_reason()
    {
        string name = UniqueName("client");
        var factory = _broker.Factory();
        factory.ClientProvidedName = name;
        await using var conn = await factory.CreateConnectionAsync();
        await using var ch = await conn.CreateChannelAsync();
        var closed = new TaskCompletionSource<ShutdownEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        conn.ConnectionShutdownAsync += (_, e) =>
        {
            closed.TrySetResult(e);
            return Task.CompletedTask;
        };

        using var api = _broker.Api();
        JsonNode connection = null!;
        await Wait.Until(async () => (connection = (await api.GetAsync("api/connections")).AsArray()
            .FirstOrDefault(c => (string?)c!["user_provided_name"] == name)!) is not null, "the connection listed");
        Assert.Equal("guest", (string?)connection["user"]);
        Assert.Equal("/", (string?)connection["vhost"]);
        Assert.Equal("running", (string?)connection["state"]);
        Assert.Equal("127.0.0.1", (string?)connection["peer_host"]);
        Assert.Equal(1, (int)connection["channels"]!);
        Assert.Equal(0, (long)connection["message_stats"]!["publish"]!);
        await ch.BasicPublishAsync("", "amq.no-such-queue-" + name, Body("x"));
        await Wait.Until(async () => (long?)(await api.GetAsync($"api/connections/{Seg((string)connection["name"]!)}"))["message_stats"]?["drop_unroutable"] == 1,
            "the connection's unroutable publish counted");
        Assert.Equal("PLAIN", (string?)connection["auth_mechanism"]);
        string connectionName = (string)connection["name"]!;
        Assert.Equal(connectionName, (string?)(await api.GetAsync($"api/connections/{Seg(connectionName)}"))["name"]);

        var (status, _, _) = await api.SendAsync(HttpMethod.Delete, $"api/connections/{Seg(connectionName)}",
            headers: new Dictionary<string, string> { ["X-Reason"] = "maintenance window" });
        Assert.Equal(HttpStatusCode.NoContent, status);
        var reason = await Wait.For(closed.Task);
        Assert.Equal(320, reason.ReplyCode);
        Assert.Equal("CONNECTION_FORCED - maintenance window", reason.ReplyText);

        await Wait.Until(async () => (await api.GetAsync("api/closed-connections")).AsArray()
            .Any(c => (string?)c!["name"] == connectionName && (int?)c["reply_code"] == 320 && (string?)c["initiated_by"] == "broker"
                      && ((string?)c["reply_text"])!.Contains("maintenance window")), "the close listed with its reason");
        Assert.Equal(HttpStatusCode.NotFound, await api.StatusOf(HttpMethod.Delete, $"api/connections/{Seg(connectionName)}"));
    }

    [Fact]
    public async Task Users_vhosts_and_permissions_are_managed_over_HTTP_and_only_by_administrators()
    {
        using var admin = _broker.Api();
        string user = UniqueName("dev");
        string vhost = UniqueName("vh");
        Assert.Equal(HttpStatusCode.Created, await admin.StatusOf(HttpMethod.Put, $"api/vhosts/{vhost}", new JsonObject()));
        Assert.Equal(HttpStatusCode.NoContent, await admin.StatusOf(HttpMethod.Put, $"api/vhosts/{vhost}", new JsonObject()));
        Assert.Equal(HttpStatusCode.Created, await admin.StatusOf(HttpMethod.Put, $"api/users/{user}",
            new JsonObject { ["password"] = "s3cret", ["tags"] = "management" }));
        Assert.Equal(HttpStatusCode.Created, await admin.StatusOf(HttpMethod.Put, $"api/permissions/{vhost}/{user}",
            new JsonObject { ["configure"] = "^own-", ["write"] = ".*", ["read"] = ".*" }));
        var who = await admin.GetAsync($"api/users/{user}");
        Assert.Equal("management", (string?)who["tags"]![0]);
        Assert.Equal("rabbit_password_hashing_sha256", (string?)who["hashing_algorithm"]);

        // The new user logs in over AMQP with those permissions.
        var factory = _broker.Factory(user, "s3cret");
        factory.VirtualHost = vhost;
        await using (var conn = await factory.CreateConnectionAsync())
        await using (var ch = await conn.CreateChannelAsync())
        {
            await ch.QueueDeclareAsync("own-q", false, false, false);
            Assert.Equal(403, await ChannelErrorCode(ch, () => ch.QueueDeclareAsync("other-q", false, false, false)));
        }

        // A management user sees their vhost but may not administer.
        using var dev = _broker.Api(user, "s3cret");
        Assert.Equal(user, (string?)(await dev.GetAsync("api/whoami"))["name"]);
        var vhosts = (await dev.GetAsync("api/vhosts")).AsArray().Select(v => (string?)v!["name"]).ToList();
        Assert.Equal([vhost], vhosts);
        Assert.Contains((await dev.GetAsync($"api/queues/{vhost}")).AsArray(), q => (string?)q!["name"] == "own-q");
        var (status, body, _) = await dev.SendAsync(HttpMethod.Get, "api/users");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("Not administrator user", (string?)body!["reason"]);
        (status, _, _) = await dev.SendAsync(HttpMethod.Get, "api/queues/%2F");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        // Through the API too, the queue permissions hold: configure only ^own-.
        (status, body, _) = await dev.SendAsync(HttpMethod.Put, $"api/queues/{vhost}/forbidden", new JsonObject { ["durable"] = false });
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("access to queue 'forbidden'", (string?)body!["reason"]);

        Assert.Equal(HttpStatusCode.NoContent, await admin.StatusOf(HttpMethod.Delete, $"api/permissions/{vhost}/{user}"));
        Assert.Equal(HttpStatusCode.NoContent, await admin.StatusOf(HttpMethod.Delete, $"api/users/{user}"));
        Assert.Equal(HttpStatusCode.NoContent, await admin.StatusOf(HttpMethod.Delete, $"api/vhosts/{vhost}"));
        Assert.Equal(HttpStatusCode.NotFound, await admin.StatusOf(HttpMethod.Get, $"api/vhosts/{vhost}"));
    }

    [Fact]
    public async Task Definitions_exported_from_one_node_import_into_another_with_users_and_topology()
    {
        using var api = _broker.Api();
        string vhost = UniqueName("defs");
        string user = UniqueName("owner");
        await api.SendAsync(HttpMethod.Put, $"api/vhosts/{vhost}", new JsonObject());
        await api.SendAsync(HttpMethod.Put, $"api/users/{user}", new JsonObject { ["password"] = "pw1", ["tags"] = new JsonArray("monitoring") });
        await api.SendAsync(HttpMethod.Put, $"api/permissions/{vhost}/{user}", new JsonObject { ["configure"] = ".*", ["write"] = ".*", ["read"] = ".*" });
        await api.SendAsync(HttpMethod.Put, $"api/exchanges/{vhost}/events", new JsonObject { ["type"] = "fanout" });
        await api.SendAsync(HttpMethod.Put, $"api/queues/{vhost}/audit", new JsonObject { ["arguments"] = new JsonObject { ["x-max-length"] = 10 } });
        await api.SendAsync(HttpMethod.Post, $"api/bindings/{vhost}/e/events/q/audit", new JsonObject { ["routing_key"] = "" });
        await api.SendAsync(HttpMethod.Put, $"api/policies/{vhost}/cap", new JsonObject
        {
            ["pattern"] = "^audit$", ["apply-to"] = "queues", ["definition"] = new JsonObject { ["max-length"] = 5 },
        });
        var definitions = await api.GetAsync("api/definitions");
        Assert.Contains(definitions["queues"]!.AsArray(), q => (string?)q!["name"] == "audit" && (string?)q["vhost"] == vhost);
        Assert.DoesNotContain(definitions["exchanges"]!.AsArray(), x => ((string?)x!["name"])!.StartsWith("amq."));

        await using var other = await BrokerFixture.StartAsync(new Dictionary<string, string>());
        using var otherApi = new ManagementClient(other.ManagementUri);
        Assert.Equal(HttpStatusCode.NoContent, await otherApi.StatusOf(HttpMethod.Post, "api/definitions", definitions));
        var q = await otherApi.GetAsync($"api/queues/{vhost}/audit");
        Assert.Equal(10, (long)q["arguments"]!["x-max-length"]!);
        Assert.Equal("cap", (string?)q["policy"]);
        Assert.Equal("events", (string?)(await otherApi.GetAsync($"api/queues/{vhost}/audit/bindings"))[1]!["source"]);

        // The user moved with its password hash: it logs in on the other node with its password.
        var factory = other.Factory(user, "pw1");
        factory.VirtualHost = vhost;
        await using var conn = await factory.CreateConnectionAsync();
        Assert.True(conn.IsOpen);
    }

    [Fact]
    public async Task Definitions_exported_by_RabbitMQ_import_unchanged()
    {
        // Exported by RabbitMQ 3.10.8 (`rabbitmqadmin export`): users with RabbitMQ's hashes, a vhost, permissions, a policy, topology.
        var definitions = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "interop", "rabbitmq-definitions.json")))!;
        using var api = _broker.Api();
        var (status, body, _) = await api.SendAsync(HttpMethod.Post, "api/definitions", definitions);
        Assert.True(status == HttpStatusCode.NoContent, body?.ToJsonString());
        foreach (var queue in definitions["queues"]!.AsArray())
        {
            var q = await api.GetAsync($"api/queues/{Seg((string)queue!["vhost"]!)}/{Seg((string)queue["name"]!)}");
            Assert.Equal((bool)queue["durable"]!, (bool)q["durable"]!);
        }

        foreach (var binding in definitions["bindings"]!.AsArray())
        {
            var found = (await api.GetAsync($"api/bindings/{Seg((string)binding!["vhost"]!)}")).AsArray();
            Assert.Contains(found, b => (string?)b!["source"] == (string?)binding["source"] && (string?)b["destination"] == (string?)binding["destination"]
                                        && (string?)b["routing_key"] == (string?)binding["routing_key"]);
        }

        // A user created in RabbitMQ logs in here with the password it had there.
        var factory = _broker.Factory("ref-app", "ref-app-pass");
        factory.VirtualHost = "ref-import";
        await using var conn = await factory.CreateConnectionAsync();
        Assert.True(conn.IsOpen);
    }

    [Fact]
    public async Task Tags_decide_who_sees_nodes_and_policies_and_who_closes_whose_connection()
    {
        using var admin = _broker.Api();
        string watcher = UniqueName("watcher");
        string member = UniqueName("member");
        await admin.SendAsync(HttpMethod.Put, $"api/users/{watcher}", new JsonObject { ["password"] = "pw", ["tags"] = "monitoring" });
        await admin.SendAsync(HttpMethod.Put, $"api/users/{member}", new JsonObject { ["password"] = "pw", ["tags"] = "management" });
        await admin.SendAsync(HttpMethod.Put, $"api/permissions/%2F/{member}", new JsonObject { ["configure"] = ".*", ["write"] = ".*", ["read"] = ".*" });

        using var management = _broker.Api(member, "pw");
        Assert.Equal(HttpStatusCode.Unauthorized, await management.StatusOf(HttpMethod.Get, "api/nodes"));
        Assert.Equal(HttpStatusCode.Unauthorized, await management.StatusOf(HttpMethod.Get, "api/policies"));
        using var monitoring = _broker.Api(watcher, "pw");
        Assert.Equal(HttpStatusCode.OK, await monitoring.StatusOf(HttpMethod.Get, "api/nodes"));
        Assert.Equal(HttpStatusCode.OK, await monitoring.StatusOf(HttpMethod.Get, "api/queues/%2F"));

        // A monitoring user sees guest's connection but may not close it; guest may.
        string name = UniqueName("guests");
        var factory = _broker.Factory();
        factory.ClientProvidedName = name;
        await using var conn = await factory.CreateConnectionAsync();
        JsonNode? listed = null;
        await Wait.Until(async () => (listed = (await monitoring.GetAsync("api/connections")).AsArray()
            .FirstOrDefault(c => (string?)c!["user_provided_name"] == name)) is not null, "guest's connection visible to the monitoring user");
        string path = $"api/connections/{Seg((string)listed!["name"]!)}";
        Assert.Equal(HttpStatusCode.Unauthorized, await monitoring.StatusOf(HttpMethod.Delete, path));
        Assert.Equal(HttpStatusCode.NotFound, await management.StatusOf(HttpMethod.Delete, path));
        Assert.True(conn.IsOpen);
        Assert.Equal(HttpStatusCode.NoContent, await admin.StatusOf(HttpMethod.Delete, path));
    }

    [Fact]
    public async Task A_write_from_another_sites_page_is_refused_and_a_bad_filter_is_a_400()
    {
        using var api = _broker.Api();
        var (status, body, _) = await api.SendAsync(HttpMethod.Put, $"api/queues/%2F/{UniqueName("csrf")}", new JsonObject(),
            new Dictionary<string, string> { ["Origin"] = "http://evil.example" });
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("cross-site request refused", (string?)body!["reason"]);
        (status, body, _) = await api.SendAsync(HttpMethod.Get, "api/queues?page=1&use_regex=true&name=(unclosed");
        Assert.Equal(HttpStatusCode.BadRequest, status);
    }

    [Fact]
    public async Task A_client_name_that_is_not_a_string_does_not_break_the_connection_list()
    {
        var factory = _broker.Factory();
        factory.ClientProperties["connection_name"] = 42;
        factory.ClientProperties["weird"] = new Dictionary<string, object?> { ["nan"] = double.NaN };
        await using var conn = await factory.CreateConnectionAsync();
        using var api = _broker.Api();
        await Wait.Until(async () => (await api.GetAsync("api/connections")).AsArray()
            .Any(c => (string?)c!["client_properties"]?["weird"]?["nan"] == "NaN"), "the connection listed");
        Assert.Equal(HttpStatusCode.OK, await api.StatusOf(HttpMethod.Get, "api/overview"));
    }

    [Fact]
    public async Task Health_checks_and_aliveness_answer_ok()
    {
        using var api = _broker.Api();
        Assert.Equal("ok", (string?)(await api.GetAsync("api/healthchecks/node"))["status"]);
        Assert.Equal("ok", (string?)(await api.GetAsync("api/aliveness-test/%2F"))["status"]);
        Assert.Equal(HttpStatusCode.NotFound, await api.StatusOf(HttpMethod.Get, "api/aliveness-test/no-such-vhost"));
        var nodes = (await api.GetAsync("api/nodes")).AsArray();
        var node = Assert.Single(nodes)!;
        Assert.True((bool)node["running"]!);
        Assert.True((long)node["mem_used"]! > 0);
    }

    [Fact]
    public async Task The_web_UI_is_served_at_the_root_without_login()
    {
        using var http = new HttpClient { BaseAddress = _broker.ManagementUri };
        var index = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Equal("text/html", index.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<script", await index.Content.ReadAsStringAsync());
    }
}
