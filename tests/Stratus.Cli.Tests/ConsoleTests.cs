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

    private async Task<(string Admin, StratusClient Client)> AdminAsync(ServerProcess server)
    {
        var admin = (await File.ReadAllTextAsync(Path.Combine(_home, "admin.token"))).Trim();
        return (admin, StratusClient.Create(server.Url, admin));
    }

    private static Task<IBrowser> LaunchAsync(IPlaywright playwright)
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium (.ci/run does) or set STRATUS_CHROMIUM");
        return playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
    }

    private static async Task SignInAsync(IPage page, ServerProcess server, string token)
    {
        await page.GotoAsync(server.Url + "/signin");
        await page.FillAsync("#token", token);
        await page.ClickAsync("button[type=submit]");
        await LiveAsync(page);
    }

    /// <summary>Waits until the page's circuit is connected: typing into a page still prerendered is lost when it goes live.</summary>
    private static Task LiveAsync(IPage page) => page.WaitForSelectorAsync("[data-testid=interactive]", new() { State = WaitForSelectorState.Attached });

    [Fact]
    public async Task Should_sign_in_with_a_token_upload_and_browse_datasets_by_role_and_send_a_revoked_token_back_to_sign_in()
    {
        await using var server = await ServerProcess.StartAsync(_home);
        var (admin, client) = await AdminAsync(server);
        await client.Datasets.UploadAsync("flights", new MemoryStream(Encoding.UTF8.GetBytes("origin,delay\nOSL,3\nBER,12\n")));
        var viewer = await client.Tokens.CreateAsync("analyst", "viewer");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });

        // Anyone without a session lands on sign-in; a wrong token is told so.
        await page.GotoAsync(server.Url + "/");
        Assert.EndsWith("/signin?ReturnUrl=%2F", page.Url, StringComparison.Ordinal);
        await page.FillAsync("#token", "stratus_not-a-token");
        await page.ClickAsync("button[type=submit]");
        Assert.Contains("unknown or revoked", await page.InnerTextAsync("[data-testid=signin-error]"));

        // An editor (here the admin) uploads from the console: a broken file is refused naming the line, a good one stored.
        await page.FillAsync("#token", admin);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync("[data-testid=upload]");
        await LiveAsync(page);
        var broken = Path.Combine(_home, "trips.csv");
        await File.WriteAllTextAsync(broken, "city,km,minutes\nOslo,12.5,31\nBergen,7\n");
        await page.WaitForSelectorAsync("[data-testid=upload-ready]", new() { State = WaitForSelectorState.Attached }); // the file input's script is set up
        await page.FillAsync("#upload-name", "trips");
        await page.PressAsync("#upload-name", "Tab");
        await page.SetInputFilesAsync("#upload-file", broken);
        Assert.Contains("line 3", await (await page.WaitForSelectorAsync("[data-testid=upload-error]"))!.InnerTextAsync());
        var good = new StringBuilder("city,km,minutes\n");
        for (var i = 0; i < 200; i++) good.Append(System.Globalization.CultureInfo.InvariantCulture, $"{(i % 3 == 0 ? "Oslo" : "Bergen")},{i * 0.5},{10 + (i % 40)}\n");
        var fixedFile = Path.Combine(_home, "trips-fixed.csv");
        await File.WriteAllTextAsync(fixedFile, good.ToString());
        await page.SetInputFilesAsync("#upload-file", fixedFile); // another file: choosing the same one again is no change to the browser
        Assert.Contains("Stored trips:1 (200 rows, 3 columns)", await (await page.WaitForSelectorAsync("[data-testid=upload-done]"))!.InnerTextAsync());
        Assert.Contains("trips", await page.InnerTextAsync("[data-testid=datasets]"));
        var audit = await client.AuditAsync(actor: "admin");
        Assert.Contains(audit.Items, e => e.Path == "/console/datasets/trips/versions" && e.Outcome == "ok" && e.Detail == "uploaded trips:1");

        // Its page: versions, each column's profile with a histogram, the first rows.
        await page.ClickAsync("a[href='/datasets/trips']");
        await page.WaitForSelectorAsync("[data-testid=preview]");
        var profile = await page.InnerTextAsync("[data-testid=profile]");
        Assert.Contains("minutes", profile);
        Assert.True(await page.Locator("[data-testid=profile] svg rect").CountAsync() >= 3);
        Assert.Contains("Oslo", await page.InnerTextAsync("[data-testid=preview]"));
        Assert.Contains("trips:1", await page.InnerTextAsync("[data-testid=versions]"));
        // Rows shown are a read of users' data: in the audit log, as the API's preview would be, once a visit, whether
        // the page was reached by a link or loaded whole (prerendered, then live).
        async Task<int> PreviewReads() => (await client.AuditAsync(actor: "admin")).Items
            .Count(e => e is { Method: "GET", Path: "/api/v1/datasets/trips/versions/1/preview", Outcome: "ok", Detail: "console: the first 20 rows of trips:1" });
        Assert.Equal(1, await PreviewReads());
        await page.GotoAsync(server.Url + "/datasets/trips");
        await page.WaitForSelectorAsync("[data-testid=preview]");
        Assert.Equal(2, await PreviewReads());
        Directory.CreateDirectory(Path.Combine(Repo.Root, "docs", "screenshots"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(Repo.Root, "docs", "screenshots", "dataset.png"), FullPage = true });
        await page.ClickAsync("text=Sign out");
        await page.WaitForURLAsync("**/signin");

        // The viewer's token signs in; the datasets are listed, and nothing that changes them is offered.
        await page.FillAsync("#token", viewer.Token);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync("[data-testid=datasets]");
        Assert.Contains("flights", await page.InnerTextAsync("[data-testid=datasets]"));
        Assert.Equal("analyst (viewer)", await page.InnerTextAsync("[data-testid=who]"));
        Assert.Equal(0, await page.Locator("[data-testid=upload]").CountAsync());
        // The session cookie is the console's alone: the API, called from the same page, still wants a token (no CSRF).
        Assert.Equal(401, await page.EvaluateAsync<int>("async () => (await fetch('/api/v1/datasets')).status"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(Repo.Root, "docs", "screenshots", "datasets.png") });

        // Runs: paged, sorted and filtered by the server.
        string? trial7 = null;
        for (var i = 0; i < 60; i++)
        {
            var run = await client.Runs.CreateAsync(new CreateRunRequest(i % 2 == 0 ? "churn" : "fraud", Name: $"trial-{i:D2}"));
            if (i == 7) trial7 = run.Id;
            await client.Runs.LogMetricsAsync(run.Id, [new MetricPoint("auc", 0.5 + (i / 200.0))]);
            if (i % 10 != 9) await client.Runs.EndAsync(run.Id);
        }
        await page.ClickAsync("a[href='/runs']");
        await LiveAsync(page);
        await page.WaitForSelectorAsync("[data-testid=runs-timing]");
        Assert.StartsWith("60 runs", await page.InnerTextAsync("[data-testid=runs-timing]"));
        Assert.Equal(25, await page.Locator("[data-testid=runs] tbody tr").CountAsync());
        Assert.Contains("trial-59", await page.InnerTextAsync("[data-testid=runs] tbody tr >> nth=0")); // newest first
        await page.ClickAsync("[data-testid=sort-name]"); // sort by name, ascending
        await page.WaitForFunctionAsync("() => document.querySelector('[data-testid=runs] tbody tr')?.innerText.includes('trial-00')");
        await page.FillAsync("#runs-search", "trial-05");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('[data-testid=runs] tbody tr').length === 1");
        Assert.Contains("auc 0.525", await page.InnerTextAsync("[data-testid=runs] tbody tr >> nth=0"));
        await page.FillAsync("#runs-search", trial7![^8..]); // the short id the console shows (ids begin with their time, so it shows their end)
        await page.WaitForFunctionAsync("() => document.querySelectorAll('[data-testid=runs] tbody tr').length === 1 && document.querySelector('[data-testid=runs] tbody tr').innerText.includes('trial-07')");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Repo.Root, "docs", "screenshots", "runs.png") });

        // Revoked: the next page load goes back to sign-in, showing nothing of the data.
        await client.Tokens.RevokeAsync(viewer.Info.Id);
        await page.GotoAsync(server.Url + "/");
        Assert.Contains("/signin", page.Url, StringComparison.Ordinal);
        Assert.DoesNotContain("flights", await page.ContentAsync());
    }

    [Fact]
    public async Task Should_render_the_first_page_of_100000_runs_and_report_how_long_it_took()
    {
        await using var server = await ServerProcess.StartAsync(_home);
        var (admin, client) = await AdminAsync(server);
        var experiment = await client.Experiments.CreateAsync(new CreateExperimentRequest("sweep"));

        // 100,000 finished runs written straight into the server's database (SQLite's WAL lets it read beside this
        // writer): the API would take minutes to create them, and the table, not the creation, is measured here.
        await using (var db = await TestDatabase.OpenAsync(_home))
        {
            await using var tx = await db.BeginTransactionAsync();
            var insert = db.CreateCommand();
            insert.Transaction = tx;
            insert.CommandText = "INSERT INTO runs (\"Id\", \"ExperimentId\", \"Name\", \"Status\", \"StartTime\", \"EndTime\", \"HeartbeatAt\", \"HeartbeatTimeoutSeconds\") VALUES (@id, @e, @name, 'FINISHED', @start, @end, @end, 60)";
            var (id, name, start, end) = (TestDatabase.Parameter(insert, "id"), TestDatabase.Parameter(insert, "name"), TestDatabase.Parameter(insert, "start"), TestDatabase.Parameter(insert, "end"));
            TestDatabase.Parameter(insert, "e", experiment.Id);
            var t0 = DateTimeOffset.UtcNow.AddDays(-30);
            for (var i = 0; i < 100_000; i++)
            {
                (id.Value, name.Value, start.Value, end.Value) = (Guid.NewGuid().ToString("N"), $"sweep-{i:D6}", TestDatabase.Time(t0.AddSeconds(i)), TestDatabase.Time(t0.AddSeconds(i).AddMilliseconds(500)));
                await insert.ExecuteNonQueryAsync();
            }
            await tx.CommitAsync();
        }

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });
        await SignInAsync(page, server, admin);

        // Measured as a person sees it: from asking for the page to its first rows on screen (the live connection included).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await page.GotoAsync(server.Url + "/runs");
        await page.WaitForSelectorAsync("[data-testid=runs] tbody tr >> text=sweep-099999");
        var firstPage = clock.Elapsed;
        var timing = await page.InnerTextAsync("[data-testid=runs-timing]");
        Assert.StartsWith("100,000 runs", timing);
        clock.Restart();
        await page.ClickAsync("[data-testid=sort-name]");
        await page.WaitForSelectorAsync("[data-testid=runs] tbody tr >> text=sweep-000000");
        var sorted = clock.Elapsed;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"runs table, 100,000 runs: first page on screen in {firstPage.TotalMilliseconds:F0} ms ({timing}); re-sorted by name in {sorted.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task Should_show_a_runs_curves_and_artifacts_an_endpoints_drift_performance_and_decisions_and_keep_the_page_when_one_part_fails()
    {
        await using var server = await ServerProcess.StartAsync(_home);
        var (admin, client) = await AdminAsync(server);
        var random = new Random(3);
        var csv = new StringBuilder("amount,hour,fraud\n");
        for (var i = 0; i < 400; i++)
        {
            var fraud = random.NextDouble() < 0.3;
            csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"{(fraud ? 400 : 30) + (random.NextDouble() * 40):F2},{random.Next(24)},{(fraud ? 1 : 0)}\n");
        }
        await client.Datasets.UploadAsync("payments", new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString())));
        var job = await client.Jobs.WaitAsync((await client.Jobs.TrainAsync(new TrainRequest("payments", "fraud", Register: "payments-model", Iterations: 10, Folds: 2))).Id);
        Assert.Equal(JobStatus.Succeeded, job.Status);
        await client.Endpoints.DeployAsync("pay", "payments-model");
        await client.Endpoints.SetCaptureAsync("pay", 1);
        var started = DateTimeOffset.UtcNow;
        var labels = new List<FeedbackItem>();
        for (var r = 0; r < 8; r++)
        {
            var amounts = Enumerable.Range(0, 25).Select(_ => 300 + (random.NextDouble() * 300)).ToList(); // larger than anything in training
            var rows = amounts.Select(amount => new Dictionary<string, System.Text.Json.JsonElement>
            {
                ["amount"] = System.Text.Json.JsonSerializer.SerializeToElement(amount),
                ["hour"] = System.Text.Json.JsonSerializer.SerializeToElement(random.Next(24)),
            }).ToList();
            var answer = await client.Endpoints.PredictAsync("pay", new PredictRequest(rows));
            labels.AddRange(amounts.Select((amount, row) => new FeedbackItem(answer.RequestId, System.Text.Json.JsonSerializer.SerializeToElement(amount > 450 ? 1 : 0), row)));
        }
        await Task.Delay(2000); // captures reach their files about once a second
        Assert.Equal(200, (await client.Monitoring.FeedbackAsync("pay", labels)).Accepted);
        var report = await client.Monitoring.CheckDriftAsync("pay", new DriftCheckRequest(From: started, To: DateTimeOffset.UtcNow));
        Assert.Equal("drift", report.Status);
        await client.Monitoring.SetPolicyAsync("pay", new MonitorPolicy(Drift: "drift", WindowMinutes: 10));
        await client.Monitoring.RunPolicyAsync("pay");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });
        await SignInAsync(page, server, admin);
        // The training run behind the model: its parameters, inputs, metrics and learning curves (train and valid per metric).
        await page.GotoAsync(server.Url + $"/runs/{job.RunId}");
        Assert.Contains("payments:1", await (await page.WaitForSelectorAsync("a[href='/datasets/payments']"))!.InnerTextAsync());
        Assert.Contains("lightgbm", await page.InnerTextAsync("[data-testid=params]"));
        Assert.Contains("auc", await page.InnerTextAsync("[data-testid=metrics]"));
        // The curves come once the metric histories are read (after the page itself).
        await page.WaitForFunctionAsync("() => document.querySelectorAll('[data-testid=curves] polyline').length >= 2");
        // Its artifacts download from the page (behind the console's cookie), byte for byte what was stored.
        var artifacts = await client.Runs.ListArtifactsAsync(job.RunId!);
        var model = artifacts.First(a => a.Path.EndsWith(".zip", StringComparison.Ordinal));
        await LiveAsync(page);
        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync($"[data-testid=artifact] >> text=\"{model.Path}\""));
        var saved = Path.Combine(_home, "downloaded.zip");
        await download.SaveAsAsync(saved);
        Assert.Equal(model.SizeBytes, new FileInfo(saved).Length);
        Assert.Equal(model.Sha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(saved))));
        await page.ScreenshotAsync(new() { Path = Path.Combine(Repo.Root, "docs", "screenshots", "run.png"), FullPage = true });

        await page.GotoAsync(server.Url + "/endpoints");
        Assert.Contains("payments-model:1 100%", await page.InnerTextAsync("[data-testid=endpoints]"));
        await LiveAsync(page);
        await page.ClickAsync("a[href='/endpoints/pay']");
        await page.WaitForURLAsync("**/endpoints/pay", InApp);
        var drift = await (await page.WaitForSelectorAsync("[data-testid=drift]"))!.InnerTextAsync();
        Assert.Matches(@"amount\s+drift", drift);
        Assert.True(await page.Locator("[data-testid=drift] svg rect").CountAsync() >= 20, $"{await page.Locator("[data-testid=drift] svg rect").CountAsync()} bars");
        Assert.Contains("fired", await page.InnerTextAsync("[data-testid=decisions]"));
        // Live performance from the labels, beside the validation figure, per metric.
        Assert.Contains("validation", await page.InnerTextAsync("[data-testid=performance]"));
        Assert.True(await page.Locator("[data-testid=performance] svg").CountAsync() >= 2);
        Assert.Contains("Fires on the drift check's verdict over 10 min", await page.InnerTextAsync("[data-testid=policy]"));
        Directory.CreateDirectory(Path.Combine(Repo.Root, "docs", "screenshots"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(Repo.Root, "docs", "screenshots", "endpoint.png"), FullPage = true });

        // A fault behind one part of the page (its stored drift reports no longer read) shows what failed there, and only there.
        await using (var db = await TestDatabase.OpenAsync(_home))
        {
            var corrupt = db.CreateCommand();
            corrupt.CommandText = "UPDATE drift_reports SET \"DetailsJson\" = '{not json' WHERE \"Endpoint\" = 'pay'";
            Assert.True(await corrupt.ExecuteNonQueryAsync() >= 1);
        }
        await page.ReloadAsync();
        Assert.Contains("Monitoring could not be shown", await (await page.WaitForSelectorAsync("[data-testid=report-error]"))!.InnerTextAsync());
        Assert.Contains("payments-model:1 100%", await page.InnerTextAsync("[data-testid=traffic-split]"));
        Assert.Contains("8 requests", await page.InnerTextAsync("[data-testid=traffic-total]"));
        await LiveAsync(page);
        await page.ClickAsync("[data-testid=try-predict]");
        await page.WaitForSelectorAsync("[data-testid=try-answer] >> text=probabilities");
        Assert.Equal(1, await page.Locator("a[href='/jobs']").CountAsync());
    }

    /// <summary>For navigations inside the live app: the address changes without a page load.</summary>
    private static readonly PageWaitForURLOptions InApp = new() { WaitUntil = WaitUntilState.Commit };

    /// <summary>Picks an option of a MudSelect: opens its list, clicks the item.</summary>
    private static async Task ChooseAsync(IPage page, string testId, string option)
    {
        await page.ClickAsync($"[data-testid={testId}]");
        await page.ClickAsync($".mud-popover-open .mud-list-item >> text=\"{option}\"");
        await page.WaitForSelectorAsync(".mud-popover-open .mud-list-item", new() { State = WaitForSelectorState.Detached });
    }

    private static string Shot(string name)
    {
        Directory.CreateDirectory(Path.Combine(Repo.Root, "docs", "screenshots"));
        return Path.Combine(Repo.Root, "docs", "screenshots", name + ".png");
    }

    private static string PaymentsCsv(int rows, int seed)
    {
        var random = new Random(seed);
        var csv = new StringBuilder("amount,hour,channel,fraud\n");
        for (var i = 0; i < rows; i++)
        {
            var fraud = random.NextDouble() < 0.3;
            csv.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"{(fraud ? 400 : 30) + (random.NextDouble() * 40):F2},{random.Next(24)},{(fraud && random.NextDouble() < 0.7 ? "web" : random.NextDouble() < 0.5 ? "app" : "store")},{(fraud ? 1 : 0)}\n");
        }
        return csv.ToString();
    }

    [Fact]
    public async Task Should_train_from_the_console_and_watch_it_compare_two_runs_promote_and_roll_back_deploy_and_call_the_endpoint_from_try_it()
    {
        await using var server = await ServerProcess.StartAsync(_home);
        try
        {
            await TrainCompareDeployAsync(server);
        }
        catch (Exception e)
        {
            // A console step that never came or showed something else: what the server logged (a circuit that failed, say) says why.
            throw new InvalidOperationException(e.Message + "\nthe server's warnings and errors:\n" + string.Join('\n', server.Problems()), e);
        }
    }

    private async Task TrainCompareDeployAsync(ServerProcess server)
    {
        var (admin, client) = await AdminAsync(server);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });
        await SignInAsync(page, server, admin);

        // Upload.
        var file = Path.Combine(_home, "payments.csv");
        await File.WriteAllTextAsync(file, PaymentsCsv(400, 5));
        await page.WaitForSelectorAsync("[data-testid=upload-ready]", new() { State = WaitForSelectorState.Attached }); // the file input's script is set up
        await page.FillAsync("#upload-name", "payments");
        await page.PressAsync("#upload-name", "Tab");
        await page.SetInputFilesAsync("#upload-file", file);
        Assert.Contains("Stored payments:1", await (await page.WaitForSelectorAsync("[data-testid=upload-done]"))!.InnerTextAsync());

        // A training job started from the console, followed live on its page until it ends (no reload).
        await page.ClickAsync("a[href='/jobs']");
        await page.WaitForSelectorAsync("[data-testid=new-job]");
        await ChooseAsync(page, "job-dataset", "payments");
        await ChooseAsync(page, "job-target", "fraud");
        await page.FillAsync("#job-register", "pay model"); // not a name: refused, naming the field, and nothing queued
        await page.ClickAsync("[data-testid=job-submit]");
        Assert.StartsWith("register:", await (await page.WaitForSelectorAsync("[data-testid=job-error]"))!.InnerTextAsync());
        Assert.Empty((await client.Jobs.ListAsync()).Items);
        await page.FillAsync("#job-register", "pay-model");
        await page.ClickAsync("[data-testid=job-submit]");
        await page.WaitForURLAsync("**/jobs/*", InApp);
        await page.WaitForSelectorAsync("[data-testid=job-status] >> text=SUCCEEDED", new() { Timeout = 120_000 });
        Assert.Contains("pay-model:1", await page.InnerTextAsync("[data-testid=job-result]"));
        Assert.Contains("registered pay-model:1", await page.InnerTextAsync("[data-testid=job-log]"));

        // An AutoML search: its leaderboard grows while it runs.
        await page.ClickAsync("a[href='/jobs']");
        await page.WaitForSelectorAsync("[data-testid=new-job]");
        await ChooseAsync(page, "job-dataset", "payments");
        await ChooseAsync(page, "job-target", "fraud");
        await ChooseAsync(page, "job-trainer", "AutoML (search)");
        await page.FillAsync("#job-budget", "10");
        await page.PressAsync("#job-budget", "Tab");
        await page.FillAsync("#job-register", "pay-model");
        await page.ClickAsync("[data-testid=job-submit]");
        await page.WaitForURLAsync("**/jobs/*", InApp);
        await page.WaitForFunctionAsync(
            "() => document.querySelector('[data-testid=job-status]')?.innerText === 'RUNNING' && document.querySelectorAll('[data-testid=leaderboard] tbody tr').length >= 2",
            null, new() { Timeout = 120_000 });
        await page.ScreenshotAsync(new() { Path = Shot("job"), FullPage = true });
        await page.WaitForSelectorAsync("[data-testid=job-status] >> text=SUCCEEDED", new() { Timeout = 180_000 });
        Assert.Contains("pay-model:2", await page.InnerTextAsync("[data-testid=job-result]"));

        // Compare the two runs: parameters that differ are marked, metrics side by side.
        await page.ClickAsync("a[href='/runs']");
        await page.WaitForSelectorAsync("[data-testid=runs-timing]");
        await page.FillAsync("#runs-search", "automl");
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('[data-testid=runs] tbody tr')].map(r => r.innerText).join() .includes('automl') && document.querySelectorAll('[data-testid=runs] tbody tr').length === 1");
        await page.CheckAsync("[data-testid=runs] tbody tr:first-child [data-testid=select-run]");
        await page.FillAsync("#runs-search", "train-lightgbm");
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('[data-testid=runs] tbody tr')].map(r => r.innerText).join().includes('train-lightgbm')");
        await page.CheckAsync("[data-testid=runs] tbody tr:first-child [data-testid=select-run]");
        await page.WaitForSelectorAsync("[data-testid=compare]:not([disabled]) >> text=Compare (2)"); // the server has both choices
        await page.ClickAsync("[data-testid=compare]");
        await page.WaitForURLAsync("**/compare?runs=*", InApp);
        // The table is there at once; its rows once both runs and their metric histories are read.
        await page.WaitForSelectorAsync("[data-testid=param-diff] [data-testid=param-differs]");
        Assert.True(await page.Locator("[data-testid=param-differs]").CountAsync() >= 1);
        Assert.Contains("budget_seconds", await page.InnerTextAsync("[data-testid=param-diff]"));
        Assert.True(await page.Locator("[data-testid=metric-row]").CountAsync() >= 2);
        await page.ClickAsync("[data-testid=only-differences] .mud-switch, [data-testid=only-differences]");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('[data-testid=param-same]').length === 0");
        await page.ScreenshotAsync(new() { Path = Shot("compare"), FullPage = true });

        // The model: lineage, promote version 2, then 1, roll back to 2; every move kept.
        await page.GotoAsync(server.Url + "/models/pay-model");
        await page.WaitForSelectorAsync("[data-testid=model-actions]");
        await LiveAsync(page);
        // The versions come with the page's data, which can arrive after it turns interactive.
        await page.WaitForFunctionAsync("() => document.querySelector('[data-testid=versions]')?.innerText.includes('payments:1')");
        await page.ClickAsync("[data-testid=promote]");
        Assert.Contains("@champion now points at pay-model:2", await (await page.WaitForSelectorAsync("[data-testid=action-message]"))!.InnerTextAsync());
        await ChooseAsync(page, "action-version", "1");
        await page.ClickAsync("[data-testid=promote]");
        await page.WaitForSelectorAsync("[data-testid=action-message] >> text=pay-model:1");
        await page.ClickAsync("[data-testid=rollback-champion]");
        await page.WaitForSelectorAsync("[data-testid=action-message] >> text=rolled back to pay-model:2");
        Assert.Equal(3, await page.Locator("[data-testid=alias-history] tr").CountAsync());
        Assert.Equal(2, (await client.Models.ResolveAsync("pay-model@champion")).Version);
        await page.ScreenshotAsync(new() { Path = Shot("model"), FullPage = true });

        // Deploy version 2 to a new endpoint, and call it from the form its signature generates.
        await ChooseAsync(page, "action-version", "2");
        await page.FillAsync("#action-endpoint", "pay");
        await page.ClickAsync("[data-testid=deploy]");
        await page.WaitForURLAsync("**/endpoints/pay", InApp);
        await page.WaitForSelectorAsync("[data-testid=try-predict]");
        await LiveAsync(page);
        Assert.Contains("pay-model:2", await page.InnerTextAsync("[data-testid=traffic-split]"));
        Assert.Equal("0 requests, 0 errors, 0 refused", await page.InnerTextAsync("[data-testid=traffic-total]"));
        for (var i = 0; i < 3; i++)
        {
            await page.ClickAsync("[data-testid=try-predict]");
            await page.WaitForSelectorAsync("[data-testid=try-answer] >> text=probabilities");
        }
        Assert.Contains("\"model\"", await page.InnerTextAsync("[data-testid=try-answer]"));
        await page.FillAsync("#try-amount", "not a number");
        await page.PressAsync("#try-amount", "Tab");
        await page.WaitForSelectorAsync("[data-testid=try-curl] >> text=not a number"); // the server has the new value: the request it would send shows it
        await page.ClickAsync("[data-testid=try-predict]");
        Assert.Contains("amount", await (await page.WaitForSelectorAsync("[data-testid=try-error]"))!.InnerTextAsync());
        // The traffic chart follows by itself: the three answers and the refused request appear within seconds.
        await page.WaitForFunctionAsync("() => document.querySelector('[data-testid=traffic-total]')?.innerText === '4 requests, 0 errors, 1 refused'", null, new() { Timeout = 15_000 });
        Assert.True(await page.Locator("[data-testid=traffic] polyline").CountAsync() >= 2);
        await page.ScreenshotAsync(new() { Path = Shot("endpoint-live"), FullPage = true });
        var traffic = await client.Endpoints.TrafficAsync("pay");
        Assert.Equal((4, 1), (traffic.Sum(p => p.Requests), traffic.Sum(p => p.Rejected)));

        // What was done from the console is in the audit log, with its words; the admin reads it there.
        await page.ClickAsync("a[href='/audit']");
        await page.WaitForSelectorAsync("[data-testid=audit] td:has-text('/console/models/pay-model/aliases/champion/rollback')");
        Assert.Contains("rolled back to pay-model:2", await page.InnerTextAsync("[data-testid=audit]"));
        await page.ScreenshotAsync(new() { Path = Shot("audit") });

        // The nodes page: this one server, up, with its address, its endpoint loaded and its CPU and memory.
        await page.ClickAsync("a[href='/nodes']");
        var nodes = await (await page.WaitForSelectorAsync("[data-testid=nodes] td:has-text('server')"))!.EvaluateAsync<string>("td => td.closest('table').innerText");
        Assert.Contains(server.Url, nodes, StringComparison.Ordinal);
        Assert.Contains("up", nodes, StringComparison.Ordinal);
        Assert.Matches(@"\d+ MiB", nodes);
        Assert.Contains("% of a core", nodes, StringComparison.Ordinal);
        await page.ScreenshotAsync(new() { Path = Shot("nodes") });
    }

    [Fact]
    public async Task Should_keep_viewers_from_changing_things_end_a_revoked_live_session_and_work_on_a_phone_and_from_the_keyboard()
    {
        await using var server = await ServerProcess.StartAsync(_home);
        var (admin, client) = await AdminAsync(server);
        await client.Datasets.UploadAsync("payments", new MemoryStream(Encoding.UTF8.GetBytes(PaymentsCsv(200, 7))));
        var job = await client.Jobs.WaitAsync((await client.Jobs.TrainAsync(new TrainRequest("payments", "fraud", Register: "pay-model", Iterations: 5, Folds: 2))).Id);
        Assert.Equal(JobStatus.Succeeded, job.Status);
        await client.Endpoints.DeployAsync("pay", "pay-model:1");
        var viewer = await client.Tokens.CreateAsync("analyst", "viewer");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });
        await SignInAsync(page, server, viewer.Token);

        // A viewer sees models and jobs, and is offered nothing that changes them; the audit log is for admins.
        await page.GotoAsync(server.Url + "/models/pay-model");
        await page.WaitForSelectorAsync("[data-testid=versions]");
        Assert.Equal(0, await page.Locator("[data-testid=model-actions]").CountAsync());
        await page.GotoAsync(server.Url + "/jobs");
        await page.WaitForSelectorAsync("[data-testid=jobs]");
        Assert.Equal(0, await page.Locator("[data-testid=new-job]").CountAsync());
        Assert.Equal(0, await page.Locator("a[href='/audit']").CountAsync());
        await page.GotoAsync(server.Url + "/audit");
        Assert.Contains("higher role than viewer", await (await page.WaitForSelectorAsync("[data-testid=forbidden]"))!.InnerTextAsync());
        Assert.Equal(0, await page.Locator("[data-testid=audit]").CountAsync());

        // Reading is open to viewers, and so is calling the endpoint from the form.
        await page.GotoAsync(server.Url + "/endpoints/pay");
        await LiveAsync(page);
        await page.ClickAsync("[data-testid=try-predict]");
        await page.WaitForSelectorAsync("[data-testid=try-answer] >> text=probabilities");

        // Revoked while the page is open: within seconds it is back at sign-in by itself, the data gone.
        await client.Tokens.RevokeAsync(viewer.Info.Id);
        await page.WaitForURLAsync("**/signin**", new() { Timeout = 20_000 });
        Assert.DoesNotContain("pay-model", await page.ContentAsync());

        // From the keyboard alone: tab to the navigation, follow a link, then a row's link.
        await SignInAsync(page, server, admin);
        for (var i = 0; i < 40 && await page.EvaluateAsync<string>("() => document.activeElement?.innerText ?? ''") != "Models"; i++) await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync("**/models", InApp);
        await page.WaitForSelectorAsync("[data-testid=models] a[href='/models/pay-model']");
        for (var i = 0; i < 40 && await page.EvaluateAsync<string>("() => document.activeElement?.getAttribute('href') ?? ''") != "/models/pay-model"; i++) await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync("**/models/pay-model", InApp);
        await page.WaitForSelectorAsync("[data-testid=versions]");

        // On a phone: every page fits the screen's width (tables turn into cards or scroll inside themselves), and the menu opens the navigation.
        var phone = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 390, Height = 844 }, IsMobile = true, HasTouch = true });
        // Every page works under the console's strict Content-Security-Policy: nothing it loads or runs is refused.
        var refusedByPolicy = new List<string>();
        phone.Console += (_, message) => { if (message.Text.Contains("Content Security Policy", StringComparison.Ordinal)) lock (refusedByPolicy) refusedByPolicy.Add(message.Text); };
        await SignInAsync(phone, server, admin);
        foreach (var (path, ready) in new[] { ("/datasets", "datasets"), ("/runs", "runs"), ("/jobs", "jobs"), ("/models/pay-model", "versions"), ("/endpoints/pay", "try-it"), ("/audit", "audit") })
        {
            var answer = await phone.GotoAsync(server.Url + path);
            Assert.Contains("script-src 'self'", answer!.Headers["content-security-policy"], StringComparison.Ordinal);
            await phone.WaitForSelectorAsync($"[data-testid={ready}]");
            await LiveAsync(phone);
            var (scroll, width) = (await phone.EvaluateAsync<int>("() => document.documentElement.scrollWidth"), await phone.EvaluateAsync<int>("() => window.innerWidth"));
            Assert.True(scroll <= width, $"{path} is {scroll} px wide on a {width} px screen");
            if (path == "/endpoints/pay") await phone.ScreenshotAsync(new() { Path = Shot("phone-endpoint"), FullPage = true });
        }
        await phone.WaitForSelectorAsync(".mud-drawer.mud-drawer--closed", new() { State = WaitForSelectorState.Attached }); // on a small screen the menu starts closed
        await phone.ClickAsync("[aria-label=Menu]");
        await phone.ClickAsync(".mud-drawer--open a[href='/models']");
        await phone.WaitForURLAsync("**/models", InApp);
        await phone.WaitForSelectorAsync("[data-testid=models]");
        lock (refusedByPolicy) Assert.True(refusedByPolicy.Count == 0, string.Join('\n', refusedByPolicy));
    }
}
