using Microsoft.Playwright;
using RabbitMQ.Client;
using static Broker.EndToEnd.Tests.ClientHelpers;
using static Microsoft.Playwright.Assertions;

namespace Broker.EndToEnd.Tests;

/// <summary>A node of its own for the browser tests.</summary>
public sealed class WebUiFixture : BrokerFixture
{
}

/// <summary>
/// The web UI in a real headless browser (Debian's chromium, driven by Playwright): every page
/// loads with no console error, a queue made over AMQP shows its depth, and a message published
/// from the queue page reaches an AMQP consumer. With BROKER_UI_SCREENSHOTS=dir set, the main pages
/// are saved there as PNG (how docs/screenshots is made).
/// </summary>
public sealed class WebUiTests : IClassFixture<WebUiFixture>, IAsyncLifetime
{
    private const string Chromium = "/usr/bin/chromium";

    private readonly WebUiFixture _broker;
    private readonly List<string> _errors = new();
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public WebUiTests(WebUiFixture broker) => _broker = broker;

    public async Task InitializeAsync()
    {
        await EnsureChromiumAsync();
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox"],
        });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }

        _playwright?.Dispose();
    }

    /// <summary>Debian's chromium: present, or installed here when the tests run as root (as .ci/run does).</summary>
    private static async Task EnsureChromiumAsync()
    {
        if (File.Exists(Chromium))
        {
            return;
        }

        var (ok, output) = await TestPrerequisites.InstallDebianPackagesAsync("chromium");
        Assert.True(ok && File.Exists(Chromium), $"the browser tests need Debian's chromium (apt-get install chromium): {output}");
    }

    /// <summary>A logged-in page; console errors and uncaught exceptions of the page are collected.</summary>
    private async Task<IPage> LoggedInPageAsync()
    {
        var page = await _browser!.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 800 } });
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (_errors)
                {
                    _errors.Add($"console: {message.Text} ({message.Location})");
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (_errors)
            {
                _errors.Add($"page error: {error}");
            }
        };
        await page.GotoAsync(_broker.ManagementUri.ToString());
        await page.GetByTestId("login-user").FillAsync("guest");
        await page.GetByTestId("login-password").FillAsync("guest");
        await page.GetByTestId("login-submit").ClickAsync();
        await Expect(page.GetByTestId("nav-overview")).ToBeVisibleAsync();
        return page;
    }

    private static async Task ScreenshotAsync(IPage page, string name)
    {
        if (Environment.GetEnvironmentVariable("BROKER_UI_SCREENSHOTS") is { Length: > 0 } dir)
        {
            Directory.CreateDirectory(dir);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(dir, name + ".png") });
        }
    }

    [Fact]
    public async Task Every_page_loads_without_console_errors_and_a_queue_declared_over_AMQP_shows_its_depth()
    {
        string queue = UniqueName("ui-depth");
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        await ch.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        for (int i = 0; i < 3; i++)
        {
            await ch.BasicPublishAsync("", queue, Body($"m{i}"));
        }

        var page = await LoggedInPageAsync();
        await Expect(page.GetByTestId("overview-queues")).Not.ToHaveTextAsync("");
        await Expect(page.GetByTestId("chart-rates")).ToBeVisibleAsync();
        await ScreenshotAsync(page, "overview");

        await page.GetByTestId("nav-queues").ClickAsync();
        var depth = page.Locator($"[data-queue='//{queue}'] [data-field='messages']");
        await Expect(depth).ToHaveTextAsync("3");
        await ScreenshotAsync(page, "queues");

        foreach (var (nav, table) in new[]
                 {
                     ("nav-connections", "connections-table"), ("nav-channels", "channels-table"), ("nav-exchanges", "exchanges-table"),
                     ("nav-nodes", "nodes-table"), ("nav-admin", "users-table"),
                 })
        {
            await page.GetByTestId(nav).ClickAsync();
            await Expect(page.GetByTestId(table).First).ToBeVisibleAsync();
            await ScreenshotAsync(page, nav["nav-".Length..]);
        }

        Assert.Empty(_errors);
    }

    [Fact]
    public async Task Publishing_from_the_queue_page_delivers_to_an_AMQP_consumer_and_get_and_purge_work()
    {
        string queue = UniqueName("ui-publish");
        await using var conn = await _broker.ConnectAsync();
        await using var ch = await conn.CreateChannelAsync();
        await ch.QueueDeclareAsync(queue, durable: false, exclusive: false, autoDelete: false);
        await ch.BasicPublishAsync("", queue, Body("waiting"));

        var page = await LoggedInPageAsync();
        await page.GotoAsync(new Uri(_broker.ManagementUri, $"#/queues/%2F/{queue}").ToString());
        await Expect(page.GetByTestId("queue-messages")).ToHaveTextAsync("1");

        // Get (requeued): the message shows, and stays.
        await page.GetByTestId("get-count").FillAsync("1");
        await page.GetByTestId("get-submit").ClickAsync();
        await Expect(page.GetByTestId("get-payload").First).ToHaveTextAsync("waiting");
        await ScreenshotAsync(page, "queue");

        // Purge (the page asks first).
        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await page.GetByTestId("purge-submit").ClickAsync();
        await Expect(page.GetByTestId("queue-messages")).ToHaveTextAsync("0");

        // Published from the page, delivered to a consumer over AMQP.
        var (_, deliveries) = await ConsumeAsync(ch, queue, autoAck: true);
        await page.GetByTestId("publish-payload").FillAsync("from the browser");
        await page.GetByTestId("publish-submit").ClickAsync();
        await Expect(page.GetByTestId("publish-result")).ToHaveAttributeAsync("data-routed", "true");
        Assert.Equal("from the browser", Text((await deliveries.NextAsync()).Body));

        Assert.Empty(_errors);
    }
}
