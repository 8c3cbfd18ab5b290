using System.Net;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Stratus.Client;
using Stratus.Server.Storage;
using Stratus.Testing;

namespace Stratus.Server.Tests;

public sealed class SecurityTests(SharedServer shared) : IClassFixture<SharedServer>
{
    private TestServer Server => shared.Server;

    [Theory]
    [InlineData("GET", "api/v1/datasets")]
    [InlineData("GET", "api/v1/runs")]
    [InlineData("GET", "api/v1/models")]
    [InlineData("GET", "api/v1/audit")]
    [InlineData("GET", "openapi/v1.json")]
    [InlineData("POST", "api/v1/experiments")]
    public async Task Should_answer_401_without_a_token(string method, string path)
    {
        using var http = Server.Http();
        var response = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("api/v1/experiments")]
    [InlineData("api/v1/endpoints/any/predict")]
    public async Task Should_refuse_a_json_body_in_a_charset_other_than_utf8_with_415(string path)
    {
        using var http = Server.Http(Server.AdminToken);
        using var body = new ByteArrayContent("{\"name\": \"caf\u00e9\"}"u8.ToArray());
        body.Headers.TryAddWithoutValidation("Content-Type", "application/json; charset=latin1");

        using var response = await http.PostAsync(path, body);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("charset 'latin1'", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Should_audit_every_read_of_users_data_with_who_and_from_where()
    {
        var client = Server.Client();
        await client.Datasets.UploadAsync("audited-reads", new MemoryStream(Encoding.UTF8.GetBytes("amount,merchant\n12.5,grocery\n830,electronics\n")));
        await client.Datasets.PreviewAsync("audited-reads");
        var file = Path.Combine(Server.DataDir, "..", $"audited-{Guid.NewGuid():N}.csv");
        try
        {
            await client.Datasets.DownloadAsync("audited-reads", file, "csv");
        }
        finally
        {
            File.Delete(file);
        }
        await client.Datasets.GetAsync("audited-reads"); // what a dataset is, not its rows: not audited

        var rows = (await client.AuditAsync(pageSize: 1000)).Items.Where(a => a.Path.StartsWith("/api/v1/datasets/audited-reads", StringComparison.Ordinal)).ToList();
        foreach (var read in new[] { "/preview", "/content" })
        {
            Assert.Contains(rows, r => r is { Method: "GET", Actor: "admin", Outcome: "ok", RemoteAddress: "127.0.0.1" } && r.Path.EndsWith(read, StringComparison.Ordinal));
        }
        Assert.All(rows.Where(r => r.Method == "GET"), r => Assert.True(r.Path.EndsWith("/preview", StringComparison.Ordinal) || r.Path.EndsWith("/content", StringComparison.Ordinal), r.Path));
    }

    [Fact]
    public async Task Should_send_browser_protections_and_refuse_console_requests_from_another_site()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(Server.Url + "/") };
        using var page = await http.GetAsync("signin");
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("same-origin", page.Headers.GetValues("Referrer-Policy").Single());
        var policy = page.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("frame-ancestors 'none'", policy);
        Assert.Contains("script-src 'self';", policy); // console pages: no inline or foreign script
        using var reference = await http.GetAsync("docs/v1");
        Assert.DoesNotContain("script-src", reference.Headers.GetValues("Content-Security-Policy").Single());

        foreach (var path in new[] { "console/signin", "console/signout", "_blazor/negotiate?negotiateVersion=1" })
        {
            using var crossSite = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = Server.AdminToken }) };
            crossSite.Headers.Add("Origin", "http://evil.example");
            using var refused = await http.SendAsync(crossSite);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);

            using var sameSite = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = Server.AdminToken }) };
            sameSite.Headers.Add("Origin", Server.Url);
            using var allowed = await http.SendAsync(sameSite);
            Assert.NotEqual(HttpStatusCode.Forbidden, allowed.StatusCode);
        }
    }

    [Fact]
    public async Task Should_answer_health_without_a_token()
    {
        using var http = Server.Http();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health/ready")).StatusCode);
    }

    [Fact]
    public async Task Should_refuse_a_revoked_or_made_up_token()
    {
        var admin = Server.Client();
        var created = await admin.Tokens.CreateAsync("short-lived", Roles.Viewer);
        Assert.Equal("short-lived", (await Server.Client(created.Token).WhoAmIAsync()).Name);

        await admin.Tokens.RevokeAsync(created.Info.Id);
        var revoked = await Assert.ThrowsAsync<StratusApiException>(() => Server.Client(created.Token).WhoAmIAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, revoked.Status);
        var madeUp = await Assert.ThrowsAsync<StratusApiException>(() => Server.Client("stratus_not-a-real-token").WhoAmIAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, madeUp.Status);
    }

    [Fact]
    public async Task Should_enforce_roles_and_audit_every_mutation_and_refusal()
    {
        var admin = Server.Client();
        var viewer = Server.Client((await admin.Tokens.CreateAsync("ann-viewer", Roles.Viewer)).Token);
        var editor = Server.Client((await admin.Tokens.CreateAsync("ed-editor", Roles.Editor)).Token);

        Assert.NotNull(await viewer.Datasets.ListAsync());
        var denied = await Assert.ThrowsAsync<StratusApiException>(() => viewer.Experiments.CreateAsync(new CreateExperimentRequest("nope")));
        Assert.Equal(HttpStatusCode.Forbidden, denied.Status);

        await editor.Experiments.CreateAsync(new CreateExperimentRequest("roles-ok"));
        var notAdmin = await Assert.ThrowsAsync<StratusApiException>(() => editor.Tokens.CreateAsync("sneaky", Roles.Admin));
        Assert.Equal(HttpStatusCode.Forbidden, notAdmin.Status);
        var noAudit = await Assert.ThrowsAsync<StratusApiException>(() => editor.AuditAsync());
        Assert.Equal(HttpStatusCode.Forbidden, noAudit.Status);

        var refused = (await admin.AuditAsync(actor: "ann-viewer", outcome: "refused")).Items;
        var entry = Assert.Single(refused);
        Assert.Equal(("POST", "/api/v1/experiments", 403), (entry.Method, entry.Path, entry.Status));
        Assert.Equal("127.0.0.1", entry.RemoteAddress);
        Assert.Contains((await admin.AuditAsync(actor: "ed-editor", outcome: "ok")).Items, e => e.Path == "/api/v1/experiments" && e.Method == "POST");
        Assert.Contains((await admin.AuditAsync(actor: "ed-editor", outcome: "refused")).Items, e => e.Path == "/api/v1/tokens");
        Assert.DoesNotContain((await admin.AuditAsync(actor: "ann-viewer")).Items, e => e.Method == "GET");
    }

    [Fact]
    public async Task Should_audit_an_anonymous_refusal_with_its_address()
    {
        using var http = Server.Http();
        await http.DeleteAsync("api/v1/datasets/anon-probe");
        var entries = (await Server.Client().AuditAsync(actor: "anonymous", outcome: "refused")).Items;
        Assert.Contains(entries, e => e.Path == "/api/v1/datasets/anon-probe" && e.Status == 401 && e.RemoteAddress == "127.0.0.1");
    }

    [Fact]
    public async Task Should_keep_the_audit_log_append_only_in_the_database()
    {
        await Server.Client().Experiments.CreateAsync(new CreateExperimentRequest($"audited-{Guid.NewGuid():N}"));
        await using var scope = Server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
        await Assert.ThrowsAnyAsync<Exception>(() => db.Database.ExecuteSqlRawAsync("UPDATE audit_log SET \"Actor\" = 'someone-else'"));
        var deleted = await Assert.ThrowsAnyAsync<Exception>(() => db.Database.ExecuteSqlRawAsync("DELETE FROM audit_log"));
        Assert.Contains("the audit log is append-only", deleted.Message, StringComparison.Ordinal);
        // PostgreSQL empties a table without row triggers by TRUNCATE; its statement trigger refuses that too.
        if (TestDatabase.IsPostgres) await Assert.ThrowsAnyAsync<Exception>(() => db.Database.ExecuteSqlRawAsync("TRUNCATE audit_log"));
        Assert.True(await db.Audit.AnyAsync());
    }

    [Fact]
    public async Task Should_store_only_token_hashes_and_write_the_admin_token_owner_only()
    {
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(Server.DataDir, "admin.token")));
        await using var scope = Server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
        Assert.DoesNotContain(await db.Tokens.Select(t => t.Hash).ToListAsync(TestContext.Current.CancellationToken), h => h == Server.AdminToken || h.StartsWith("stratus_", StringComparison.Ordinal));
        // In WAL mode recent rows live in stratus.db-wal, not yet in stratus.db: read every database file.
        foreach (var file in Directory.EnumerateFiles(Server.DataDir, "stratus.db*"))
        {
            await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream, Encoding.Latin1);
            Assert.DoesNotContain(Server.AdminToken, await reader.ReadToEndAsync(TestContext.Current.CancellationToken));
        }
    }

    [Fact]
    public async Task Should_refuse_a_text_plain_post()
    {
        using var http = Server.Http(Server.AdminToken);
        var response = await http.PostAsync("api/v1/experiments", new StringContent("{\"name\":\"x\"}", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("application/json", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Should_refuse_an_oversized_json_body()
    {
        using var http = Server.Http(Server.AdminToken);
        var huge = "{\"name\":\"" + new string('a', 17 << 20) + "\"}";
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/experiments") { Content = new StringContent(huge, Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true;
        var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Should_refuse_a_request_for_an_unknown_host()
    {
        using var http = Server.Http(Server.AdminToken);
        var request = new HttpRequestMessage(HttpMethod.Get, "api/v1/datasets");
        request.Headers.Host = "evil.example";
        Assert.Equal(HttpStatusCode.BadRequest, (await http.SendAsync(request)).StatusCode);
    }

    [Theory]
    [InlineData("..%2F..%2Fetc")]
    [InlineData("..%252F..%252Fetc")]
    [InlineData("a%5Cb")]
    [InlineData("%2Fetc%2Fpasswd")]
    [InlineData("a%00b")]
    [InlineData("..")]
    public async Task Should_refuse_traversal_in_a_dataset_name(string name)
    {
        using var http = Server.Http(Server.AdminToken);
        var content = new StringContent("a\n1\n", Encoding.UTF8, "text/csv");
        var upload = await http.PostAsync($"api/v1/datasets/{name}/versions", content);
        Assert.True((int)upload.StatusCode is >= 400 and < 500, $"{name}: {upload.StatusCode}");
        var read = await http.GetAsync($"api/v1/datasets/{name}/versions/latest/content");
        Assert.True(read.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, $"{name}: {read.StatusCode}");
        Assert.DoesNotContain((await Server.Client().Datasets.ListAsync()).Items, d => d.Name.Contains("etc", StringComparison.Ordinal) || d.Name.Contains('.', StringComparison.Ordinal));
    }
}

/// <summary>Guessing tokens, on a server of its own (the limiter counts by client address, and every test comes from 127.0.0.1).</summary>
public sealed class AuthenticationLimitTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await TestServer.StartAsync(o => o.Security.AuthFailureBurst = 5);

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Should_answer_429_after_a_burst_of_bad_tokens_write_few_audit_rows_and_keep_good_tokens_working()
    {
        var admin = _server.Client();
        Assert.Equal("admin", (await admin.WhoAmIAsync()).Role); // a token seen in the last seconds

        var statuses = new List<HttpStatusCode>();
        string? retryAfter = null;
        using var guesser = _server.Http($"stratus_guess-{Guid.NewGuid():N}");
        for (var i = 0; i < 60; i++)
        {
            using var response = await guesser.GetAsync("api/v1/whoami");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) retryAfter ??= response.Headers.RetryAfter?.ToString();
        }

        Assert.Equal(5, statuses.Count(s => s == HttpStatusCode.Unauthorized));
        Assert.Equal(55, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.InRange(int.Parse(retryAfter!, System.Globalization.CultureInfo.InvariantCulture), 1, 60);
        // The address is over its limit, yet a token it used a moment ago still works (clients behind one proxy).
        Assert.Equal("admin", (await admin.WhoAmIAsync()).Role);
        // Sixty refusals, two audit rows: the first 401 and the first 429 of the minute.
        var refused = (await admin.AuditAsync(outcome: "refused", pageSize: 1000)).Items;
        Assert.InRange(refused.Count, 1, 2);
    }

    [Fact]
    public async Task Should_audit_a_failed_console_sign_in_as_refused()
    {
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(_server.Url + "/") };
        using var response = await browser.PostAsync("console/signin", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = "stratus_wrong" }));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/signin?error=", response.Headers.Location!.OriginalString, StringComparison.Ordinal);

        var rows = (await _server.Client().AuditAsync(pageSize: 1000)).Items.Where(a => a.Path == "/console/signin").ToList();
        var row = Assert.Single(rows);
        Assert.Equal("refused", row.Outcome);
        Assert.Contains("unknown or revoked token", row.Detail);
    }

    [Fact]
    public async Task Should_keep_the_last_admin_token_from_revoking_itself()
    {
        var admin = _server.Client();
        var me = (await admin.Tokens.ListAsync()).Items.Single(t => t.Role == Roles.Admin && t.RevokedAt is null);

        var refused = await Assert.ThrowsAsync<StratusApiException>(() => admin.Tokens.RevokeAsync(me.Id));

        Assert.Equal(HttpStatusCode.Conflict, refused.Status);
        Assert.Contains("is the last admin token: create another admin token first", refused.Detail);
        // An admin token past its time is no way in.
        var lapsed = await admin.Tokens.CreateAsync("lapsed-admin", Roles.Admin);
        await using (var scope = _server.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<StratusDb>().Tokens.Where(t => t.Id == lapsed.Info.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(t => t.ExpiresAt, DateTimeOffset.UtcNow.AddMinutes(-1)));
        }
        Assert.Equal(HttpStatusCode.Conflict, (await Assert.ThrowsAsync<StratusApiException>(() => admin.Tokens.RevokeAsync(me.Id))).Status);
        var second = await admin.Tokens.CreateAsync("second-admin", Roles.Admin);
        Assert.NotNull((await _server.Client(second.Token).Tokens.RevokeAsync(me.Id)).RevokedAt);
    }
}
