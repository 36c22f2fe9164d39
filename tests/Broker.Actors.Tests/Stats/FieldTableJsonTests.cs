using System.Text.Json.Nodes;
using Broker.Actors.Management;
using Broker.Protocol;

namespace Broker.Actors.Tests.Stats;

/// <summary>Arguments and headers between AMQP field tables and the management API's JSON, as RabbitMQ maps them.</summary>
public sealed class FieldTableJsonTests
{
    [Fact]
    public void Tables_become_json_with_strings_numbers_booleans_nested_tables_and_arrays()
    {
        var table = new FieldTable
        {
            ["x-message-ttl"] = 60000,
            ["x-dead-letter-exchange"] = "dlx"u8.ToArray(),
            ["flag"] = true,
            ["ratio"] = 0.5,
            ["nested"] = new FieldTable { ["a"] = (byte)1 },
            ["list"] = new List<object?> { "x"u8.ToArray(), 2L },
            ["none"] = null,
        };
        var json = FieldTableJson.ToJson(table);
        Assert.Equal("""{"x-message-ttl":60000,"x-dead-letter-exchange":"dlx","flag":true,"ratio":0.5,"nested":{"a":1},"list":["x",2],"none":null}""",
            json.ToJsonString());
    }

    [Fact]
    public void Values_JSON_cannot_hold_become_strings_instead_of_failing()
    {
        var json = FieldTableJson.ToJson(new FieldTable
        {
            ["nan"] = double.NaN,
            ["inf"] = float.PositiveInfinity,
            ["tiny"] = new AmqpDecimal(40, 7),
            ["money"] = new AmqpDecimal(2, -1050),
        });
        Assert.Equal("""{"nan":"NaN","inf":"Infinity","tiny":"7e-40","money":-10.50}""", json.ToJsonString());
    }

    [Fact]
    public void Json_arguments_become_the_types_RabbitMQs_management_gives_them()
    {
        var table = FieldTableJson.FromJson(JsonNode.Parse("""{"x-max-length":10,"x-overflow":"reject-publish","ratio":1.5,"on":false,"t":{"k":"v"},"a":[1,"s"]}"""));
        Assert.Equal(10L, table["x-max-length"]);
        Assert.Equal("reject-publish"u8.ToArray(), table["x-overflow"]);
        Assert.Equal(1.5, table["ratio"]);
        Assert.Equal(false, table["on"]);
        Assert.Equal("v"u8.ToArray(), ((FieldTable)table["t"]!)["k"]);
        Assert.Equal(2, ((List<object?>)table["a"]!).Count);
        Assert.Empty(FieldTableJson.FromJson(null));
        Assert.Throws<FormatException>(() => FieldTableJson.FromJson(JsonNode.Parse("[1]")));
    }
}
