using System.Text;
using Microsoft.Playwright;
using Stratus.Client;
using Stratus.Testing;

namespace Stratus.Cli.Tests;

/// <summary>The web console in a real browser (Debian's Chromium, driven by Playwright) against the real server process.</summary>
public sealed class ConsoleTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("stratus-console-").FullName;

    public void Dispose() => Directory.Delete(_home, recursive: true);

    /// <summary>Debian's Chromium, installed by .ci/run (Playwright downloads no browser).</summary>
    private static string Chromium => Environment.GetEnvironmentVariable("STRATUS_CHROMIUM") ?? "/usr/bin/chromium";

    [Fact]
    public async Task Should_sign_in_with_a_token_list_datasets_and_send_a_revoked_token_back_to_sign_in()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium (.ci/run does) or set STRATUS_CHROMIUM");
        await using var server = await ServerProcess.StartAsync(_home);
        var admin = (await File.ReadAllTextAsync(Path.Combine(_home, "admin.token"))).Trim();
        var client = StratusClient.Create(server.Url, admin);
        await client.Datasets.UploadAsync("flights", new MemoryStream(Encoding.UTF8.GetBytes("origin,delay\nOSL,3\nBER,12\n")));
        var viewer = await client.Tokens.CreateAsync("analyst", "viewer");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });

        // Anyone without a session lands on sign-in; a wrong token is told so.
        await page.GotoAsync(server.Url + "/");
        Assert.EndsWith("/signin?ReturnUrl=%2F", page.Url, StringComparison.Ordinal);
        await page.FillAsync("#token", "stratus_not-a-token");
        await page.ClickAsync("button[type=submit]");
        Assert.Contains("unknown or revoked", await page.InnerTextAsync("[data-testid=signin-error]"));

        // The viewer's token signs in; the datasets are listed.
        await page.FillAsync("#token", viewer.Token);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync("[data-testid=datasets]");
        Assert.Contains("flights", await page.InnerTextAsync("[data-testid=datasets]"));
        Assert.Equal("analyst (viewer)", await page.InnerTextAsync("[data-testid=who]"));
        // The session cookie is the console's alone: the API, called from the same page, still wants a token (no CSRF).
        Assert.Equal(401, await page.EvaluateAsync<int>("async () => (await fetch('/api/v1/datasets')).status"));
        Directory.CreateDirectory(Path.Combine(Repo.Root, "docs", "screenshots"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(Repo.Root, "docs", "screenshots", "datasets.png") });

        // Revoked: the next page load goes back to sign-in, showing nothing of the data.
        await client.Tokens.RevokeAsync(viewer.Info.Id);
        await page.GotoAsync(server.Url + "/");
        Assert.Contains("/signin", page.Url, StringComparison.Ordinal);
        Assert.DoesNotContain("flights", await page.ContentAsync());
    }
}
