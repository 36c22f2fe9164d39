using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace Broker.EndToEnd.Tests;

/// <summary>The throwaway PostgreSQL server answers queries on its database and is gone after dispose.</summary>
[Collection("postgres")]
public sealed class PostgresServerTests
{
    private readonly PostgresFixture _postgres;
    private readonly ITestOutputHelper _log;

    public PostgresServerTests(PostgresFixture postgres, ITestOutputHelper log)
    {
        _postgres = postgres;
        _log = log;
    }

    [Fact]
    public async Task Shared_server_answers_on_its_test_database()
    {
        var server = _postgres.Server;
        Assert.Equal("1", (await server.PsqlAsync("select 1")).Trim());
        Assert.Equal(server.Database, (await server.PsqlAsync("select current_database()")).Trim());
        Assert.Contains($"Port={server.Port};", _postgres.ConnectionString);
        Assert.Contains($"Database={server.Database};", _postgres.ConnectionString);
    }

    [Fact]
    public async Task Dispose_stops_the_server_and_removes_its_folder()
    {
        var server = await PostgresServer.StartAsync();
        int port = server.Port;
        string root = server.RootDir;
        _log.WriteLine($"PostgreSQL (initdb, start, create database) ready after {server.StartupTime.TotalMilliseconds:0} ms");
        Assert.Equal("1", (await server.PsqlAsync("select 1")).Trim());
        Assert.True(await AcceptsTcp(port));

        await server.DisposeAsync();

        Assert.False(await AcceptsTcp(port), $"port {port} still accepts connections after dispose");
        Assert.False(Directory.Exists(root));
    }

    private static async Task<bool> AcceptsTcp(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(5));
            return true;
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
            return false;
        }
    }
}
