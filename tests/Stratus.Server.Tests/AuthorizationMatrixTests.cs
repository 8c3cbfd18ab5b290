using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Stratus.Client;
using Stratus.Server.Storage;
using Stratus.Testing;

namespace Stratus.Server.Tests;

/// <summary>
/// Every API route, for every kind of caller, answers what its rule says. The routes come from the server's own route
/// table; each must have its rule written here, so that a new route without one fails this test.
/// </summary>
public sealed partial class AuthorizationMatrixTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // The rule of every route: who may call it at least. "anonymous": anyone; "invoke": any role, and an invoke token
    // naming the route's endpoint; then viewer < editor < admin.
    private static readonly Dictionary<string, string> Rules = new(StringComparer.Ordinal)
    {
        ["DELETE /api/v1/datasets/{name}"] = "editor",
        ["DELETE /api/v1/datasets/{name}/versions/{version}"] = "editor",
        ["DELETE /api/v1/endpoints/{name}"] = "editor",
        ["DELETE /api/v1/endpoints/{name}/policy/"] = "editor",
        ["DELETE /api/v1/endpoints/{name}/rollout"] = "editor",
        ["DELETE /api/v1/models/{name}/aliases/{alias}"] = "editor",
        ["DELETE /api/v1/secrets/{name}"] = "admin",
        ["DELETE /api/v1/tokens/{id:long}"] = "admin",
        ["GET /api/v1/audit"] = "admin",
        ["GET /api/v1/audit/verify"] = "admin",
        ["GET /api/v1/datasets/"] = "viewer",
        ["GET /api/v1/datasets/{name}"] = "viewer",
        ["GET /api/v1/datasets/{name}/versions"] = "viewer",
        ["GET /api/v1/datasets/{name}/versions/{version}"] = "viewer",
        ["GET /api/v1/datasets/{name}/versions/{version}/content"] = "viewer",
        ["GET /api/v1/datasets/{name}/versions/{version}/preview"] = "viewer",
        ["GET /api/v1/datasets/{name}/versions/{version}/profile"] = "viewer",
        ["GET /api/v1/endpoints/"] = "viewer",
        ["GET /api/v1/endpoints/{name}"] = "viewer",
        ["GET /api/v1/endpoints/{name}/captures"] = "viewer",
        ["GET /api/v1/endpoints/{name}/drift/"] = "viewer",
        ["GET /api/v1/endpoints/{name}/performance"] = "viewer",
        ["GET /api/v1/endpoints/{name}/policy/"] = "viewer",
        ["GET /api/v1/endpoints/{name}/policy/decisions"] = "viewer",
        ["GET /api/v1/endpoints/{name}/report"] = "viewer",
        ["GET /api/v1/endpoints/{name}/rollout"] = "viewer",
        ["GET /api/v1/endpoints/{name}/shadow"] = "viewer",
        ["GET /api/v1/endpoints/{name}/traffic"] = "viewer",
        ["GET /api/v1/experiments/"] = "viewer",
        ["GET /api/v1/experiments/{idOrName}"] = "viewer",
        ["GET /api/v1/jobs/"] = "viewer",
        ["GET /api/v1/jobs/{id}"] = "viewer",
        ["GET /api/v1/jobs/{id}/log"] = "viewer",
        ["GET /api/v1/keys"] = "admin",
        ["GET /api/v1/models/"] = "viewer",
        ["GET /api/v1/models/resolve"] = "viewer",
        ["GET /api/v1/models/{name}"] = "viewer",
        ["GET /api/v1/models/{name}/aliases"] = "viewer",
        ["GET /api/v1/models/{name}/versions"] = "viewer",
        ["GET /api/v1/models/{name}/versions/{version:int}"] = "viewer",
        ["GET /api/v1/models/{name}/versions/{version:int}/baseline"] = "viewer",
        ["GET /api/v1/models/{name}/versions/{version:int}/content"] = "viewer",
        ["GET /api/v1/nodes"] = "viewer",
        ["GET /api/v1/projects/"] = "viewer",
        ["GET /api/v1/projects/{name}/grants"] = "viewer",
        ["GET /api/v1/projects/{name}/members"] = "viewer",
        ["POST /api/v1/projects/"] = "editor",
        ["POST /api/v1/projects/{name}/grants"] = "editor",
        ["PUT /api/v1/projects/{name}/members/{member}"] = "editor",
        ["DELETE /api/v1/projects/{name}/grants/{id:long}"] = "editor",
        ["DELETE /api/v1/projects/{name}/members/{member}"] = "editor",
        ["GET /api/v1/runs/"] = "viewer",
        ["GET /api/v1/runs/{id}"] = "viewer",
        ["GET /api/v1/runs/{id}/artifacts"] = "viewer",
        ["GET /api/v1/runs/{id}/artifacts/{**path}"] = "viewer",
        ["GET /api/v1/runs/{id}/metrics"] = "viewer",
        ["GET /api/v1/secrets/"] = "admin",
        ["GET /api/v1/tokens/"] = "admin",
        ["GET /api/v1/users/"] = "admin",
        ["GET /api/v1/whoami"] = "viewer",
        ["GET /health/live"] = "anonymous",
        ["GET /health/ready"] = "anonymous",
        ["GET /metrics"] = "viewer",
        ["PATCH /api/v1/models/{name}"] = "editor",
        ["PATCH /api/v1/models/{name}/versions/{version:int}"] = "editor",
        ["PATCH /api/v1/runs/{id}"] = "editor",
        ["POST /api/v1/admin/gc"] = "admin",
        ["POST /api/v1/automl"] = "editor",
        ["POST /api/v1/batch"] = "editor",
        ["POST /api/v1/datasets/{name}/versions"] = "editor",
        ["POST /api/v1/endpoints/{name}/drift/"] = "editor",
        ["POST /api/v1/endpoints/{name}/feedback"] = "editor",
        ["POST /api/v1/endpoints/{name}/policy/run"] = "editor",
        ["POST /api/v1/endpoints/{name}/predict"] = "invoke",
        ["POST /api/v1/endpoints/{name}/rollout"] = "editor",
        ["POST /api/v1/experiments/"] = "editor",
        ["POST /api/v1/jobs/{id}/cancel"] = "editor",
        ["POST /api/v1/keys/rotate"] = "admin",
        ["POST /api/v1/models/"] = "editor",
        ["POST /api/v1/models/{name}/aliases/{alias}/rollback"] = "editor",
        ["POST /api/v1/models/{name}/import"] = "editor",
        ["POST /api/v1/models/{name}/versions"] = "editor",
        ["POST /api/v1/runs/"] = "editor",
        ["POST /api/v1/runs/{id}/heartbeat"] = "editor",
        ["POST /api/v1/runs/{id}/inputs"] = "editor",
        ["POST /api/v1/runs/{id}/metrics"] = "editor",
        ["POST /api/v1/runs/{id}/params"] = "editor",
        ["POST /api/v1/tokens/"] = "admin",
        ["POST /api/v1/tokens/{id:long}/rotate"] = "admin",
        ["POST /api/v1/train"] = "editor",
        ["POST /api/v1/users/"] = "admin",
        ["POST /api/v1/users/{name}/disable"] = "admin",
        ["PUT /api/v1/endpoints/{name}"] = "editor",
        ["PUT /api/v1/endpoints/{name}/batching"] = "editor",
        ["PUT /api/v1/endpoints/{name}/capture"] = "editor",
        ["PUT /api/v1/endpoints/{name}/limits"] = "editor",
        ["PUT /api/v1/endpoints/{name}/policy/"] = "editor",
        ["PUT /api/v1/endpoints/{name}/scaling"] = "editor",
        ["PUT /api/v1/endpoints/{name}/traffic"] = "editor",
        ["PUT /api/v1/models/{name}/aliases/{alias}"] = "editor",
        ["PUT /api/v1/models/{name}/versions/{version:int}/baseline"] = "editor",
        ["PUT /api/v1/runs/{id}/artifacts/{**path}"] = "editor",
        ["PUT /api/v1/secrets/{name}"] = "admin",
    };

    /// <summary>The callers, weakest first; each may call a route whose rule ranks at most its own.</summary>
    private static readonly string[] Callers = ["none", "expired", "revoked", "invoke", "viewer", "editor", "admin"];

    private static int Rank(string rule) => rule switch
    {
        "anonymous" => 0,
        "invoke" => 1,
        "viewer" => 2,
        "editor" => 3,
        "admin" => 4,
        _ => throw new ArgumentException($"unknown rule '{rule}'"),
    };

    /// <summary>What a caller ranks as: the missing, expired and revoked tokens as anonymous; an invoke token as invoke (its own endpoint).</summary>
    private static int CallerRank(string caller) => caller switch
    {
        "none" or "expired" or "revoked" => 0,
        "invoke" => 1,
        _ => Rank(caller),
    };

    [GeneratedRegex(@"\{(?<name>[^}:=?]+)[^}]*\}")]
    private static partial Regex Parameter();

    [Fact]
    public async Task Should_answer_every_route_for_every_kind_of_caller_as_its_rule_says()
    {
        await using var server = await TestServer.StartAsync();
        var admin = server.Client();
        var tokens = new Dictionary<string, string?>
        {
            ["none"] = null,
            ["admin"] = server.AdminToken,
            ["viewer"] = (await admin.Tokens.CreateAsync("matrix-viewer", Roles.Viewer, ct: Ct)).Token,
            ["editor"] = (await admin.Tokens.CreateAsync("matrix-editor", Roles.Editor, ct: Ct)).Token,
            ["invoke"] = (await admin.Tokens.CreateAsync(new CreateTokenRequest("matrix-app", Roles.Invoke, Endpoints: ["x"]), Ct)).Token,
        };
        var revoked = await admin.Tokens.CreateAsync("matrix-revoked", Roles.Admin, ct: Ct);
        await admin.Tokens.RevokeAsync(revoked.Info.Id, Ct);
        tokens["revoked"] = revoked.Token;
        var expired = await admin.Tokens.CreateAsync("matrix-expired", Roles.Admin, ct: Ct);
        await using (var scope = server.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<StratusDb>().Tokens.Where(t => t.Id == expired.Info.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(t => t.ExpiresAt, DateTimeOffset.UtcNow.AddMinutes(-1)), Ct);
        }
        tokens["expired"] = expired.Token;

        var routes = Routes(server);
        Assert.True(routes.Count > 40, $"{routes.Count} routes found");
        var missing = routes.Where(r => !Rules.ContainsKey(r.Key)).Select(r => $"[\"{r.Key}\"] = \"{Declared(r.Endpoint)}\",").ToList();
        Assert.True(missing.Count == 0, "routes without a rule in this test (with what they declare):\n" + string.Join("\n", missing));
        var gone = Rules.Keys.Except(routes.Select(r => r.Key)).ToList();
        Assert.True(gone.Count == 0, "rules of routes the server no longer maps: " + string.Join(", ", gone));

        var wrong = new List<string>();
        foreach (var (key, endpoint) in routes)
        {
            var rule = Rules[key];
            foreach (var caller in Callers)
            {
                using var http = server.Http(tokens[caller]);
                using var request = Request(key, endpoint);
                using var response = await http.SendAsync(request, Ct);
                var status = (int)response.StatusCode;
                var allowed = CallerRank(caller) >= Rank(rule);
                var expected = allowed ? "not 401 or 403" : caller is "none" or "expired" or "revoked" ? "401" : "403";
                var ok = allowed ? status is not (401 or 403) : status == (caller is "none" or "expired" or "revoked" ? 401 : 403);
                if (!ok) wrong.Add($"{key} as {caller}: {status}, expected {expected}");
            }
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));

        // An invoke token reaches its own endpoints only, through the fast path as well as the full pipeline.
        using var app = server.Http(tokens["invoke"]);
        var other = await app.PostAsync("api/v1/endpoints/y/predict", new StringContent("""{"instances": [{}]}""", Encoding.UTF8, "application/json"), Ct);
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        Assert.Contains("may only call the predict route of endpoint x", await other.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    /// <summary>The API's routes (and the metrics and health routes) as the server maps them, as <c>METHOD PATTERN</c>.</summary>
    private static List<(string Key, RouteEndpoint Endpoint)> Routes(TestServer server) =>
        [.. server.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } path && (path.StartsWith("/api/", StringComparison.Ordinal) || path is "/metrics" || path.StartsWith("/health", StringComparison.Ordinal)))
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (Key: $"{m} {e.RoutePattern.RawText}", Endpoint: e)))
            .OrderBy(r => r.Key, StringComparer.Ordinal)];

    /// <summary>A request to a route, its parameters filled in, with a body of the type it takes (routing answers any other type with 415 before authorization).</summary>
    private static HttpRequestMessage Request(string key, RouteEndpoint endpoint)
    {
        var method = key[..key.IndexOf(' ')];
        var path = Parameter().Replace(key[(key.IndexOf(' ') + 1)..], m => m.Groups["name"].Value switch
        {
            "name" => "x", // the invoke token's endpoint
            "id" or "version" or "reportId" => "999999",
            _ => "zz",
        });
        var request = new HttpRequestMessage(new HttpMethod(method), path.TrimStart('/'));
        if (method is "POST" or "PUT" or "PATCH")
        {
            var contentType = endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata>()?.ContentTypes is { Count: > 0 } types ? types[0] : "application/json";
            request.Content = new StringContent("{}", Encoding.UTF8);
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        }
        return request;
    }

    [Fact]
    public async Task Should_answer_every_route_of_a_project_404_to_a_caller_outside_it()
    {
        await using var server = await TestServer.StartAsync();
        var admin = server.Client();
        await admin.CreateProjectAsync("risk", Ct);
        // An editor of the default project, in no other: every route that works in a project says risk does not exist,
        // as it says of a project that does not; the routes across projects (tokens' own, users, projects) do not ask.
        var outsider = (await admin.Tokens.CreateAsync("outsider", Roles.Editor, ct: Ct)).Token;
        var wrong = new List<string>();
        var scoped = 0;
        foreach (var (key, endpoint) in Routes(server).Where(r => r.Key.Contains(" /api/", StringComparison.Ordinal)))
        {
            var across = endpoint.Metadata.GetMetadata<Security.AcrossProjects>() is not null;
            scoped += across ? 0 : 1;
            foreach (var (token, project) in new[] { (outsider, "risk"), (server.AdminToken, "nowhere") })
            {
                using var http = server.Http(token, project);
                using var request = Request(key, endpoint);
                using var response = await http.SendAsync(request, Ct);
                var body = await response.Content.ReadAsStringAsync(Ct);
                var hidden = response.StatusCode == HttpStatusCode.NotFound && body.Contains($"project '{project}' does not exist", StringComparison.Ordinal);
                if (hidden == across) wrong.Add($"{key} in {project}: {(int)response.StatusCode} {body}");
            }
        }
        Assert.True(scoped > 50, $"{scoped} routes work in a project");
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));

        // A project named wrongly is refused, naming the header.
        using var bad = server.Http(outsider, "../etc");
        var refused = await bad.GetAsync("api/v1/datasets", Ct);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("Stratus-Project: '../etc' must start with a letter or digit", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_let_an_invoke_token_call_the_predictions_of_its_endpoints_and_nothing_else()
    {
        await using var server = await TestServer.StartAsync();
        var admin = server.Client();
        var csv = new StringBuilder("amount,category,fraud\n");
        var random = new Random(5);
        for (var i = 0; i < 300; i++)
        {
            var fraud = random.NextDouble() < 0.3;
            csv.Append($"{(fraud ? 300 : 40) + random.Next(100)},{(random.NextDouble() < (fraud ? 0.7 : 0.2) ? "online" : "grocery")},{(fraud ? 1 : 0)}\n");
        }
        await admin.Datasets.UploadAsync("tx", new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString())), ct: Ct);
        var job = await admin.Jobs.TrainAsync(new TrainRequest("tx", "fraud", Register: "fraud"), Ct);
        Assert.Equal(JobStatus.Succeeded, (await admin.Jobs.WaitAsync(job.Id, ct: Ct)).Status);
        await admin.Endpoints.DeployAsync("fraud", "fraud:1", Ct);
        await admin.Endpoints.DeployAsync("other", "fraud:1", Ct);

        var created = await admin.Tokens.CreateAsync(new CreateTokenRequest("checkout", Roles.Invoke, Endpoints: ["fraud"]), Ct);
        Assert.Equal(["fraud"], created.Info.Endpoints);
        Assert.Equal(["fraud"], (await admin.Tokens.ListAsync(ct: Ct)).Items.Single(t => t.Name == "checkout").Endpoints);
        using var app = server.Http(created.Token);
        const string Row = """{"instances": [{"amount": 420, "category": "online"}]}""";
        // Twice: the first through the full pipeline, the second through the serving fast path (token now cached).
        for (var i = 0; i < 2; i++)
        {
            var predicted = await app.PostAsync("api/v1/endpoints/fraud/predict", new StringContent(Row, Encoding.UTF8, "application/json"), Ct);
            Assert.Equal(HttpStatusCode.OK, predicted.StatusCode);
            var refused = await app.PostAsync("api/v1/endpoints/other/predict", new StringContent(Row, Encoding.UTF8, "application/json"), Ct);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }
        foreach (var path in new[] { "api/v1/endpoints/fraud", "api/v1/whoami", "api/v1/datasets", "api/v1/models/fraud", "metrics" })
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await app.GetAsync(path, Ct)).StatusCode);
        }

        // Not a way into the console either.
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(server.Url + "/") };
        var signIn = await browser.PostAsync("console/signin", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = created.Token }), Ct);
        Assert.StartsWith("/signin?error=", signIn.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.False(signIn.Headers.Contains("Set-Cookie"));

        // Scopes are checked at creation.
        foreach (var (request, field) in new[]
        {
            (new CreateTokenRequest("no-endpoints", Roles.Invoke), "endpoints"),
            (new CreateTokenRequest("viewer-endpoints", Roles.Viewer, Endpoints: ["fraud"]), "endpoints"),
            (new CreateTokenRequest("bad-name", Roles.Invoke, Endpoints: ["../x"]), "endpoints"),
        })
        {
            var refused = await Assert.ThrowsAsync<StratusApiException>(() => admin.Tokens.CreateAsync(request, Ct));
            Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
            Assert.StartsWith(field, refused.Detail, StringComparison.Ordinal);
        }
    }

    /// <summary>What a route declares, to start its rule from when it is new.</summary>
    private static string Declared(RouteEndpoint endpoint)
    {
        if (endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null) return "anonymous";
        var policies = endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy).Where(p => p is not null).ToList();
        return policies.Count == 0 ? "viewer" : policies[^1]!;
    }
}
