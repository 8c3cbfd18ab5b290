using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Stratus.Client;
using Stratus.Testing;

namespace Stratus.Server.Tests;

/// <summary>
/// Projects: each project's datasets, experiments, jobs, models and endpoints are its members' alone; another
/// project's answer 404 as if they did not exist; members' roles cap their tokens'; a grant lets one project use
/// another's model or dataset.
/// </summary>
public sealed class ProjectsTests : IAsyncLifetime
{
    private TestServer _server = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _server = await TestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private static MemoryStream Csv(int rows, int seed)
    {
        var random = new Random(seed);
        var csv = new StringBuilder("amount,hour,fraud\n");
        for (var i = 0; i < rows; i++)
        {
            var fraud = random.NextDouble() < 0.3;
            csv.Append(CultureInfo.InvariantCulture, $"{(fraud ? 400 : 30) + random.NextDouble() * 40:F2},{random.Next(24)},{(fraud ? 1 : 0)}\n");
        }
        return new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString()));
    }

    private static PredictRequest Row(double amount) =>
        new([new Dictionary<string, JsonElement> { ["amount"] = JsonSerializer.SerializeToElement(amount), ["hour"] = JsonSerializer.SerializeToElement(3) }]);

    private static async Task RefusedAsync(HttpStatusCode status, string detail, Func<Task> call)
    {
        var ex = await Assert.ThrowsAsync<StratusApiException>(call);
        Assert.Equal(status, ex.Status);
        Assert.Contains(detail, ex.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_show_each_project_only_to_its_members_and_cap_their_roles()
    {
        var admin = _server.Client();
        foreach (var user in new[] { "alice", "bob" }) await admin.CreateUserAsync(new CreateUserRequest(user), Ct);
        var aliceToken = (await admin.Tokens.CreateAsync(new CreateTokenRequest("alice-laptop", Roles.Editor, User: "alice"), Ct)).Token;
        var bobToken = (await admin.Tokens.CreateAsync(new CreateTokenRequest("bob-laptop", Roles.Editor, User: "bob"), Ct)).Token;
        await admin.SetProjectMemberAsync(Projects.Default, "bob", Projects.Editor, Ct);

        // Alice makes a project and owns it; in it she keeps a dataset, an experiment and a model of her own.
        var created = await _server.Client(aliceToken).CreateProjectAsync("risk", Ct);
        Assert.Equal(("risk", Projects.Owner, 1), (created.Name, created.Role, created.Members));
        var alice = _server.Client(aliceToken, "risk");
        await alice.Datasets.UploadAsync("tx", Csv(300, 1), ct: Ct);
        await alice.Experiments.CreateAsync(new CreateExperimentRequest("scoring"), Ct);
        var job = await alice.Jobs.TrainAsync(new TrainRequest("tx", "fraud", Register: "fraud", Iterations: 10), Ct);
        job = await alice.Jobs.WaitAsync(job.Id, ct: Ct);
        Assert.Equal((JobStatus.Succeeded, null), (job.Status, job.Error));
        await alice.Endpoints.DeployAsync("scorer", "fraud:1", Ct);
        Assert.Equal(new WhoAmI("alice", Roles.Editor, "alice-laptop", "risk", Roles.Editor), await alice.WhoAmIAsync(Ct));

        // Bob works in default with the same names: nothing collides, and nothing of risk shows.
        var bob = _server.Client(bobToken);
        await bob.Datasets.UploadAsync("tx", Csv(50, 2), ct: Ct);
        await bob.Experiments.CreateAsync(new CreateExperimentRequest("scoring"), Ct);
        Assert.Equal(50, (await bob.Datasets.GetAsync("tx", Ct)).Rows);
        Assert.Equal(300, (await alice.Datasets.GetAsync("tx", Ct)).Rows);
        Assert.DoesNotContain((await bob.Models.ListAsync(null, null, Ct)).Items, m => m.Name == "fraud");
        Assert.Empty((await bob.Endpoints.ListAsync(null, null, Ct)).Items);
        Assert.Empty((await bob.Jobs.ListAsync(ct: Ct)).Items);
        await RefusedAsync(HttpStatusCode.NotFound, "model 'fraud' does not exist", () => bob.Models.GetAsync("fraud", Ct));
        await RefusedAsync(HttpStatusCode.NotFound, "endpoint 'scorer' does not exist", () => bob.Endpoints.PredictAsync("scorer", Row(420), Ct));
        await RefusedAsync(HttpStatusCode.NotFound, "job", () => bob.Jobs.GetAsync(job.Id, Ct));
        await RefusedAsync(HttpStatusCode.NotFound, "run", () => bob.Runs.GetAsync(job.RunId!, Ct));
        Assert.DoesNotContain(await bob.ProjectsAsync(Ct), x => x.Name == "risk");

        // Asking for risk by name: a project he is not in does not exist for him, exactly like one that does not exist.
        var bobInRisk = _server.Client(bobToken, "risk");
        await RefusedAsync(HttpStatusCode.NotFound, "project 'risk' does not exist", () => bobInRisk.Datasets.ListAsync(ct: Ct));
        await RefusedAsync(HttpStatusCode.NotFound, "project 'risk' does not exist", () => bobInRisk.Endpoints.PredictAsync("scorer", Row(420), Ct));
        await RefusedAsync(HttpStatusCode.NotFound, "project 'nowhere' does not exist", () => _server.Client(bobToken, "nowhere").Datasets.ListAsync(ct: Ct));
        await RefusedAsync(HttpStatusCode.NotFound, "project 'risk' does not exist", () => _server.Client(bobToken).ProjectMembersAsync("risk", Ct));
        await RefusedAsync(HttpStatusCode.NotFound, "project 'default' does not exist", () => _server.Client(aliceToken).Datasets.ListAsync(ct: Ct));

        // A viewer of risk reads it with his editor token, and changes nothing; only an owner manages members.
        await _server.Client(aliceToken).SetProjectMemberAsync("risk", "bob", Projects.Viewer, Ct);
        Assert.Equal(300, (await bobInRisk.Datasets.GetAsync("tx", Ct)).Rows);
        Assert.Single((await bobInRisk.Endpoints.PredictAsync("scorer", Row(420), Ct)).Predictions);
        Assert.Equal(Roles.Viewer, (await bobInRisk.WhoAmIAsync(Ct)).ProjectRole);
        await RefusedAsync(HttpStatusCode.Forbidden, "stronger role than 'viewer'", () => bobInRisk.Datasets.UploadAsync("more", Csv(10, 3), ct: Ct));
        await RefusedAsync(HttpStatusCode.Forbidden, "only an owner of project 'risk'", () => bobInRisk.SetProjectMemberAsync("risk", "bob", Projects.Owner, Ct));
        await RefusedAsync(HttpStatusCode.Conflict, "keeps at least one owner", () => _server.Client(aliceToken).RemoveProjectMemberAsync("risk", "alice", Ct));

        // A token limited to risk reaches nothing else; an admin reaches every project.
        var riskOnly = await _server.Client(project: "risk").Tokens.CreateAsync(new CreateTokenRequest("bob-risk-only", Roles.Viewer, User: "bob", ProjectOnly: true), Ct);
        Assert.Equal("risk", riskOnly.Info.Project);
        await RefusedAsync(HttpStatusCode.BadRequest, "project_only: 'alice' is not a member of project 'default'",
            () => admin.Tokens.CreateAsync(new CreateTokenRequest("alice-default-only", Roles.Viewer, User: "alice", ProjectOnly: true), Ct));
        Assert.Single((await _server.Client(riskOnly.Token).Datasets.ListAsync(ct: Ct)).Items);
        await RefusedAsync(HttpStatusCode.NotFound, "project 'default' does not exist", () => _server.Client(riskOnly.Token, Projects.Default).Datasets.ListAsync(ct: Ct));
        Assert.Equal(300, (await _server.Client(project: "risk").Datasets.GetAsync("tx", Ct)).Rows);
        Assert.Contains(await admin.ProjectsAsync(Ct), x => x is { Name: "risk", Role: Roles.Admin });

        // An application's invoke token calls risk's endpoint with no header (its token's project), on the fast path
        // and off it, and nothing else.
        var app = await _server.Client(project: "risk").Tokens.CreateAsync(new CreateTokenRequest("risk-app", Roles.Invoke, Endpoints: ["scorer"]), Ct);
        Assert.Equal("risk", app.Info.Project);
        for (var i = 0; i < 3; i++) Assert.Single((await _server.Client(app.Token).Endpoints.PredictAsync("scorer", Row(30), Ct)).Predictions);
        await RefusedAsync(HttpStatusCode.NotFound, "project 'default' does not exist", () => _server.Client(app.Token, Projects.Default).Endpoints.PredictAsync("scorer", Row(30), Ct));
        await RefusedAsync(HttpStatusCode.Forbidden, "may only call the predict route", () => _server.Client(app.Token).Datasets.ListAsync(ct: Ct));

        // The serving metrics show an endpoint to those who may see its project.
        var outsider = (await admin.Tokens.CreateAsync(new CreateTokenRequest("default-only", Roles.Viewer), Ct)).Token;
        Assert.Contains("endpoint=\"risk/scorer\"", await MetricsAsync(_server.AdminToken), StringComparison.Ordinal);
        Assert.Contains("endpoint=\"risk/scorer\"", await MetricsAsync(bobToken), StringComparison.Ordinal);
        var hidden = await MetricsAsync(outsider);
        Assert.Contains("stratus_models_loaded ", hidden, StringComparison.Ordinal);
        Assert.DoesNotContain("risk/scorer", hidden, StringComparison.Ordinal);
    }

    private async Task<string> MetricsAsync(string token)
    {
        using var http = _server.Http(token);
        return await http.GetStringAsync("metrics", Ct);
    }

    [Fact]
    public async Task Should_let_another_project_deploy_a_model_and_train_on_a_dataset_only_under_a_grant()
    {
        var admin = _server.Client();
        foreach (var project in new[] { "risk", "ops" }) await admin.CreateProjectAsync(project, Ct);
        var risk = _server.Client(project: "risk");
        var ops = _server.Client(project: "ops");
        await risk.Datasets.UploadAsync("tx", Csv(300, 1), ct: Ct);
        var job = await risk.Jobs.TrainAsync(new TrainRequest("tx", "fraud", Register: "fraud", Iterations: 10), Ct);
        Assert.Equal(JobStatus.Succeeded, (await risk.Jobs.WaitAsync(job.Id, ct: Ct)).Status);

        // Without a grant, ops cannot name risk's model or dataset: they do not exist for it.
        await RefusedAsync(HttpStatusCode.NotFound, "model 'risk/fraud' does not exist", () => ops.Endpoints.DeployAsync("scorer", "risk/fraud:1", Ct));
        await RefusedAsync(HttpStatusCode.NotFound, "dataset 'risk/tx' does not exist", () => ops.Jobs.TrainAsync(new TrainRequest("risk/tx", "fraud", Iterations: 5), Ct));
        await RefusedAsync(HttpStatusCode.NotFound, "model 'nothing' in project 'risk' does not exist",
            () => admin.GrantAsync("risk", new GrantRequest("model", "nothing", "ops"), Ct));

        var modelGrant = await admin.GrantAsync("risk", new GrantRequest("model", "fraud", "ops"), Ct);
        await admin.GrantAsync("risk", new GrantRequest("dataset", "tx", "ops"), Ct);
        Assert.Equal(2, (await ops.GrantsAsync("ops", Ct)).Count);
        var endpoint = await ops.Endpoints.DeployAsync("scorer", "risk/fraud:1", Ct);
        Assert.Equal(("scorer", "risk/fraud"), (endpoint.Name, endpoint.Model.Name));
        Assert.Single((await ops.Endpoints.PredictAsync("scorer", Row(420), Ct)).Predictions);
        var trained = await ops.Jobs.TrainAsync(new TrainRequest("risk/tx", "fraud", Register: "own-fraud", Iterations: 5), Ct);
        trained = await ops.Jobs.WaitAsync(trained.Id, ct: Ct);
        Assert.Equal((JobStatus.Succeeded, null), (trained.Status, trained.Error));
        Assert.Equal(1, (await ops.Models.GetAsync("own-fraud", Ct)).LatestVersion);
        await RefusedAsync(HttpStatusCode.NotFound, "model 'own-fraud' does not exist", () => risk.Models.GetAsync("own-fraud", Ct));

        // Grants are audited, and a withdrawn one stops new uses.
        Assert.Contains((await admin.AuditAsync(ct: Ct)).Items, a => a is { Method: "POST", Path: "/api/v1/projects/risk/grants", Outcome: "ok" });
        await admin.RevokeGrantAsync("risk", modelGrant.Id, Ct);
        await RefusedAsync(HttpStatusCode.NotFound, "model 'risk/fraud' does not exist", () => ops.Endpoints.DeployAsync("other", "risk/fraud:1", Ct));
    }
}
