using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Broker.Protocol.Methods;

namespace Broker.Protocol.Tests;

public class CodegenTests
{
    private static readonly Dictionary<string, string> CsType = new()
    {
        ["bit"] = "Boolean",
        ["octet"] = "Byte",
        ["short"] = "UInt16",
        ["long"] = "UInt32",
        ["longlong"] = "UInt64",
        ["timestamp"] = "UInt64",
        ["shortstr"] = "String",
        ["longstr"] = "Byte[]",
        ["table"] = "FieldTable",
    };

    private static JsonDocument LoadSpec() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Wire.RepoRoot(), "spec", "amqp-rabbitmq-0.9.1.json")));

    private static string Pascal(string name) => name switch
    {
        "class-id" => "FailingClassId",
        "method-id" => "FailingMethodId",
        _ => string.Concat(name.Split('-').Select(p => char.ToUpperInvariant(p[0]) + p[1..])),
    };

    private static Dictionary<string, string> Domains(JsonDocument spec) =>
        spec.RootElement.GetProperty("domains").EnumerateArray()
            .ToDictionary(d => d[0].GetString()!, d => d[1].GetString()!);

    private static string ArgType(JsonElement arg, Dictionary<string, string> domains) =>
        arg.TryGetProperty("type", out var t) ? t.GetString()! : domains[arg.GetProperty("domain").GetString()!];

    private static IEnumerable<(JsonElement Cls, JsonElement Method)> SpecMethods(JsonDocument spec) =>
        from c in spec.RootElement.GetProperty("classes").EnumerateArray()
        from m in c.GetProperty("methods").EnumerateArray()
        select (c, m);

    [Fact]
    public async Task CodegenIsUpToDate()
    {
        var psi = new ProcessStartInfo("python3")
        {
            WorkingDirectory = Wire.RepoRoot(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("src/Broker.Protocol/CodeGen/codegen.py");
        psi.ArgumentList.Add("--check");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(timeout.Token);
        string output = await stdout + "\n" + await stderr;
        Assert.True(p.ExitCode == 0, $"codegen.py --check exited {p.ExitCode}: generated code is stale.\n{output}");
    }

    [Fact]
    public void AllMethodsMatchesTheSpecIdsExactly()
    {
        using var spec = LoadSpec();
        var expected = SpecMethods(spec)
            .Select(x => (x.Cls.GetProperty("id").GetInt32(), x.Method.GetProperty("id").GetInt32()))
            .ToHashSet();
        var methods = MethodDecoder.AllMethods();
        var actual = methods.Select(m => ((int)m.ClassId, (int)m.MethodId)).ToHashSet();

        Assert.Equal(66, expected.Count);
        Assert.Equal(expected.Count, methods.Count); // no duplicates in AllMethods
        Assert.Equal(expected.OrderBy(x => x), actual.OrderBy(x => x));
    }

    [Fact]
    public void MethodNamesAndFlagsMatchTheSpec()
    {
        using var spec = LoadSpec();
        var byIds = MethodDecoder.AllMethods().ToDictionary(m => (m.ClassId, m.MethodId));
        foreach (var (c, m) in SpecMethods(spec))
        {
            var method = byIds[((ushort)c.GetProperty("id").GetInt32(), (ushort)m.GetProperty("id").GetInt32())];
            string full = c.GetProperty("name").GetString() + "." + m.GetProperty("name").GetString();
            Assert.Equal(full, method.Name);
            Assert.Equal(full, method.ToString());
            bool content = m.TryGetProperty("content", out var ct) && ct.GetBoolean();
            bool sync = m.TryGetProperty("synchronous", out var sy) && sy.GetBoolean();
            Assert.True(content == method.HasContent, $"{full}: HasContent should be {content}");
            Assert.True(sync == method.IsSynchronous, $"{full}: IsSynchronous should be {sync}");

            var t = method.GetType();
            Assert.Equal(method.ClassId, (ushort)t.GetField("ClassIdValue")!.GetValue(null)!);
            Assert.Equal(method.MethodId, (ushort)t.GetField("MethodIdValue")!.GetValue(null)!);
        }
    }

    [Fact]
    public void ContentMethodsAreExactlyPublishReturnDeliverGetOk()
    {
        var content = MethodDecoder.AllMethods().Where(m => m.HasContent).Select(m => m.Name).Order();
        Assert.Equal(new[] { "basic.deliver", "basic.get-ok", "basic.publish", "basic.return" }, content);
    }

    [Fact]
    public void EveryArgumentHasAPropertyOfTheRightTypeAndDefault()
    {
        using var spec = LoadSpec();
        var domains = Domains(spec);
        var byIds = MethodDecoder.AllMethods().ToDictionary(m => (m.ClassId, m.MethodId));
        foreach (var (c, m) in SpecMethods(spec))
        {
            var method = byIds[((ushort)c.GetProperty("id").GetInt32(), (ushort)m.GetProperty("id").GetInt32())];
            var fresh = (Method)Activator.CreateInstance(method.GetType())!;
            var args = m.GetProperty("arguments").EnumerateArray().ToList();
            var settable = method.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.CanWrite).Select(p => p.Name).Order().ToList();
            Assert.Equal(args.Select(a => Pascal(a.GetProperty("name").GetString()!)).Order(), settable);

            foreach (var a in args)
            {
                string argName = a.GetProperty("name").GetString()!;
                string type = ArgType(a, domains);
                var prop = method.GetType().GetProperty(Pascal(argName))!;
                Assert.True(CsType[type] == prop.PropertyType.Name,
                    $"{method.Name}.{argName}: {type} should be {CsType[type]}, is {prop.PropertyType.Name}");
                object? actual = prop.GetValue(fresh);
                a.TryGetProperty("default-value", out var def);
                switch (type)
                {
                    case "bit":
                        Assert.Equal(def.ValueKind == JsonValueKind.True, (bool)actual!);
                        break;
                    case "octet":
                    case "short":
                    case "long":
                    case "longlong":
                        ulong expectedNumber = def.ValueKind == JsonValueKind.Number ? def.GetUInt64() : 0;
                        Assert.Equal(expectedNumber, Convert.ToUInt64(actual));
                        break;
                    case "shortstr":
                        Assert.Equal(def.ValueKind == JsonValueKind.String ? def.GetString() : "", (string)actual!);
                        break;
                    case "longstr":
                        var expectedBytes = def.ValueKind == JsonValueKind.String
                            ? Encoding.UTF8.GetBytes(def.GetString()!)
                            : Array.Empty<byte>();
                        Assert.Equal(expectedBytes, (byte[])actual!);
                        break;
                    case "table":
                        Assert.Empty(Assert.IsType<FieldTable>(actual));
                        break;
                    default:
                        Assert.Fail($"unexpected argument type {type} in {method.Name}");
                        break;
                }
            }
        }
    }

    [Fact]
    public void BasicPropertiesMatchTheSpecProperties()
    {
        using var spec = LoadSpec();
        var basic = spec.RootElement.GetProperty("classes").EnumerateArray()
            .Single(c => c.GetProperty("name").GetString() == "basic");
        var expected = basic.GetProperty("properties").EnumerateArray()
            .Select(p => (Pascal(p.GetProperty("name").GetString()!), p.GetProperty("type").GetString()!))
            .ToList();
        Assert.Equal(14, expected.Count);
        var actual = typeof(BasicProperties).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .ToDictionary(p => p.Name);
        Assert.Equal(expected.Select(e => e.Item1).Order(), actual.Keys.Order());
        foreach (var (name, type) in expected)
        {
            var propType = actual[name].PropertyType;
            var underlying = Nullable.GetUnderlyingType(propType) ?? propType;
            Assert.Equal(CsType[type], underlying.Name);
        }
    }

    [Fact]
    public void DecodeDispatchesEveryMethodToItsOwnClass()
    {
        foreach (var m in MethodDecoder.AllMethods())
        {
            var decoded = MethodDecoder.Decode(Wire.MethodPayload(m));
            Assert.IsType(m.GetType(), decoded);
        }
    }
}
