using System.Net;
using System.Text;
using Stratus.Client;
using Stratus.Testing;

namespace Stratus.Server.Tests;

public sealed class TrackingTests(SharedServer shared) : IClassFixture<SharedServer>
{
    private readonly StratusClient _client = shared.Server.Client();

    [Fact]
    public async Task Should_track_params_tags_metrics_inputs_and_artifacts_of_a_run()
    {
        await _client.Datasets.UploadAsync("track-data", new MemoryStream("x,y\n1,2\n3,4\n"u8.ToArray()));
        var run = await _client.Runs.CreateAsync(new CreateRunRequest("churn", "first", new Dictionary<string, string> { ["lr"] = "0.1" }));
        Assert.Equal(RunStatus.Running, run.Status);
        Assert.Equal("churn", (await _client.Experiments.GetAsync("churn")).Name);

        await _client.Runs.LogParamsAsync(run.Id, new Dictionary<string, string> { ["trees"] = "100" }, new Dictionary<string, string> { ["team"] = "risk" });
        await _client.Runs.LogMetricsAsync(run.Id, [.. Enumerable.Range(0, 50).Select(i => new MetricPoint("loss", 1.0 / (i + 1), i)), new MetricPoint("auc", 0.91)]);
        await _client.Runs.LogInputsAsync(run.Id, ["track-data:1"]);
        var artifact = await _client.Runs.LogArtifactAsync(run.Id, "model/model.zip", new MemoryStream("weights"u8.ToArray()));
        Assert.Equal(7, artifact.SizeBytes);

        var done = await _client.Runs.EndAsync(run.Id);
        Assert.Equal(RunStatus.Finished, done.Status);
        Assert.NotNull(done.EndTime);
        Assert.Equal("0.1", done.Params["lr"]);
        Assert.Equal("100", done.Params["trees"]);
        Assert.Equal("risk", done.Tags["team"]);
        Assert.Equal(1.0 / 50, done.LatestMetrics["loss"], 9);
        Assert.Equal("track-data", Assert.Single(done.Inputs).Dataset);

        var history = await _client.Runs.GetMetricsAsync(run.Id, "loss");
        Assert.Equal(50, history.Count);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), history.Select(p => p.Step));

        var file = Path.GetTempFileName();
        try
        {
            Assert.Equal(artifact.Sha256, await _client.Runs.DownloadArtifactAsync(run.Id, "model/model.zip", file));
            Assert.Equal("weights", await File.ReadAllTextAsync(file));
        }
        finally
        {
            File.Delete(file);
        }
        Assert.Contains((await _client.Runs.ListAsync("churn")).Items, r => r.Id == run.Id);
    }

    [Fact]
    public async Task Should_refuse_changing_a_logged_param_and_data_for_an_ended_run()
    {
        var run = await _client.Runs.CreateAsync(new CreateRunRequest("params", Params: new Dictionary<string, string> { ["seed"] = "1" }));
        var changed = await Assert.ThrowsAsync<StratusApiException>(() => _client.Runs.LogParamsAsync(run.Id, new Dictionary<string, string> { ["seed"] = "2" }));
        Assert.Equal(HttpStatusCode.Conflict, changed.Status);
        Assert.Contains("seed", changed.Detail);

        await _client.Runs.EndAsync(run.Id, RunStatus.Killed);
        var late = await Assert.ThrowsAsync<StratusApiException>(() => _client.Runs.LogMetricsAsync(run.Id, [new MetricPoint("m", 1)]));
        Assert.Equal(HttpStatusCode.Conflict, late.Status);
        var twice = await Assert.ThrowsAsync<StratusApiException>(() => _client.Runs.EndAsync(run.Id));
        Assert.Equal(HttpStatusCode.Conflict, twice.Status);
    }

    [Fact]
    public async Task Should_mark_a_run_failed_when_its_heartbeats_stop()
    {
        var run = await _client.Runs.CreateAsync(new CreateRunRequest("heartbeats", HeartbeatTimeoutSeconds: 1));
        var alive = await _client.Runs.CreateAsync(new CreateRunRequest("heartbeats", HeartbeatTimeoutSeconds: 60));

        RunInfo current = run;
        for (var i = 0; i < 100 && current.Status == RunStatus.Running; i++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
            current = await _client.Runs.GetAsync(run.Id);
        }
        Assert.Equal(RunStatus.Failed, current.Status);
        Assert.Contains("heartbeat", current.FailureReason);
        Assert.Equal(RunStatus.Running, (await _client.Runs.GetAsync(alive.Id)).Status);
    }

    [Fact]
    public async Task Should_keep_a_run_alive_through_metric_batches_stamping_its_heartbeat_a_tenth_of_its_timeout_apart_and_audit_them_once_a_minute()
    {
        // A 2 s timeout: the reaper would fail the run between two heartbeats a timeout apart.
        var run = await _client.Runs.CreateAsync(new CreateRunRequest("heartbeats", HeartbeatTimeoutSeconds: 2));
        var beats = new List<DateTimeOffset> { run.HeartbeatAt };
        for (var i = 0; i < 40; i++)
        {
            await _client.Runs.LogMetricsAsync(run.Id, [new MetricPoint("loss", 1.0 / (i + 1), i)]);
            var current = await _client.Runs.GetAsync(run.Id);
            Assert.Equal(RunStatus.Running, current.Status);
            if (current.HeartbeatAt != beats[^1]) beats.Add(current.HeartbeatAt);
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        // Every point stored, the heartbeat moved on with the batches, but never less than 0.2 s after the last one.
        Assert.Equal(40, (await _client.Runs.GetMetricsAsync(run.Id, "loss")).Count);
        Assert.True(beats.Count >= 5, $"{beats.Count} heartbeats in 4 s");
        // (Stored to the millisecond: two stamps truncated apart can sit up to 1 ms closer than the instants they stand for.)
        Assert.All(beats.Zip(beats.Skip(1)), pair => Assert.True(pair.Second - pair.First >= TimeSpan.FromMilliseconds(199), $"{pair.First:O} -> {pair.Second:O}"));

        // Forty batches within a minute: one audit row, while a refused batch is audited on its own.
        var reader = shared.Server.Client((await _client.Tokens.CreateAsync($"reader-{Guid.NewGuid():N}", Roles.Viewer)).Token);
        await Assert.ThrowsAsync<StratusApiException>(() => reader.Runs.LogMetricsAsync(run.Id, [new MetricPoint("loss", 0)]));
        var rows = (await _client.AuditAsync(pageSize: 1000)).Items.Where(a => a.Path == $"/api/v1/runs/{run.Id}/metrics").ToList();
        Assert.Equal([("ok", 204), ("refused", 403)], rows.Select(r => (r.Outcome, r.Status)).Order());
    }

    [Fact]
    public async Task Should_name_the_metric_field_that_is_wrong()
    {
        var run = await _client.Runs.CreateAsync(new CreateRunRequest("validation"));
        using var http = shared.Server.Http(shared.Server.AdminToken);

        var badType = await http.PostAsync($"api/v1/runs/{run.Id}/metrics",
            new StringContent("""{"metrics":[{"key":"a","value":1},{"key":"b","value":"high"}]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, badType.StatusCode);
        Assert.Contains("metrics[1].value", await badType.Content.ReadAsStringAsync());

        var badKey = await Assert.ThrowsAsync<StratusApiException>(() => _client.Runs.LogMetricsAsync(run.Id, [new MetricPoint("ok", 1), new MetricPoint("../x", 1)]));
        Assert.Equal("metrics[1].key", badKey.Field);
    }

    [Fact]
    public async Task Should_keep_artifacts_immutable_and_refuse_traversal_in_their_paths()
    {
        var run = await _client.Runs.CreateAsync(new CreateRunRequest("artifacts"));
        await _client.Runs.LogArtifactAsync(run.Id, "a.txt", new MemoryStream("one"u8.ToArray()));
        await _client.Runs.LogArtifactAsync(run.Id, "a.txt", new MemoryStream("one"u8.ToArray()));
        var clash = await Assert.ThrowsAsync<StratusApiException>(() => _client.Runs.LogArtifactAsync(run.Id, "a.txt", new MemoryStream("two"u8.ToArray())));
        Assert.Equal(HttpStatusCode.Conflict, clash.Status);

        using var http = shared.Server.Http(shared.Server.AdminToken);
        string[] attacks = ["..%2F..%2Fescape.txt", "%2E%2E/%2E%2E/escape.txt", "..%252F..%252Fescape.txt", "a%5C..%5C..%5Cescape.txt", "%2Fetc%2Fescape.txt", "a%00b.txt", "x/../../escape.txt"];
        foreach (var attack in attacks)
        {
            var content = new ByteArrayContent("evil"u8.ToArray());
            content.Headers.ContentType = new("application/octet-stream");
            var response = await http.PutAsync($"api/v1/runs/{run.Id}/artifacts/{attack}", content);
            // Refused one way or another: a 400 naming the path, or (when Kestrel's dot-segment removal lands elsewhere) no such route.
            Assert.True((int)response.StatusCode is >= 400 and < 500, $"{attack}: {response.StatusCode}");
        }
        Assert.Equal(["a.txt"], (await _client.Runs.ListArtifactsAsync(run.Id)).Select(a => a.Path));
        Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(shared.Server.DataDir)!, "escape.txt"));
        Assert.Empty(Directory.EnumerateFiles(shared.Server.DataDir, "escape.txt", SearchOption.AllDirectories));
    }
}

/// <summary>Who may write to a run or delete a dataset: its owner or an admin, and a job's run only its job.</summary>
public sealed class OwnershipTests(SharedServer shared) : IClassFixture<SharedServer>
{
    private async Task<StratusClient> EditorAsync(string name) => shared.Server.Client((await shared.Server.Client().Tokens.CreateAsync(name, Roles.Editor)).Token);

    [Fact]
    public async Task Should_let_only_the_owner_or_an_admin_write_to_a_run()
    {
        var ann = await EditorAsync($"ann-{Guid.NewGuid():N}");
        var bob = await EditorAsync($"bob-{Guid.NewGuid():N}");
        var run = await ann.Runs.CreateAsync(new CreateRunRequest("owned"));

        var writes = new Func<StratusClient, Task>[]
        {
            c => c.Runs.LogParamsAsync(run.Id, new Dictionary<string, string> { ["lr"] = "0.1" }),
            c => c.Runs.LogMetricsAsync(run.Id, [new MetricPoint("auc", 0.9)]),
            c => c.Runs.LogArtifactAsync(run.Id, "model/package.zip", new MemoryStream("planted"u8.ToArray())),
            c => c.Runs.EndAsync(run.Id, RunStatus.Killed),
        };
        foreach (var write in writes)
        {
            var refused = await Assert.ThrowsAsync<StratusApiException>(() => write(bob));
            Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
            Assert.Contains("only its owner or an admin may change it", refused.Detail);
        }
        Assert.Equal(RunStatus.Running, (await ann.Runs.GetAsync(run.Id)).Status);
        Assert.Empty(await ann.Runs.ListArtifactsAsync(run.Id));

        await ann.Runs.LogMetricsAsync(run.Id, [new MetricPoint("auc", 0.9)]);
        await shared.Server.Client().Runs.LogParamsAsync(run.Id, new Dictionary<string, string> { ["by"] = "admin" });
        Assert.Equal(RunStatus.Finished, (await ann.Runs.EndAsync(run.Id)).Status);
    }

    [Fact]
    public async Task Should_let_only_its_job_write_to_a_jobs_run_and_keep_the_job_tag_to_the_server()
    {
        var admin = shared.Server.Client();
        await admin.Datasets.UploadAsync("owned-data", new MemoryStream("x,y\n1,0\n2,1\n3,0\n4,1\n5,0\n6,1\n7,0\n8,1\n"u8.ToArray()));
        var job = await admin.Jobs.WaitAsync((await admin.Jobs.TrainAsync(new TrainRequest("owned-data", "y", Iterations: 2, Folds: 2))).Id, ct: TestContext.Current.CancellationToken);
        Assert.Equal(JobStatus.Succeeded, job.Status);

        // Not even an admin plants an artifact in a job's run or reopens it.
        var planted = await Assert.ThrowsAsync<StratusApiException>(() => admin.Runs.LogArtifactAsync(job.RunId!, "model/package.zip", new MemoryStream("x"u8.ToArray())));
        Assert.Equal(HttpStatusCode.Forbidden, planted.Status);
        Assert.Contains($"belongs to job {job.Id}: only that job writes to it", planted.Detail);

        var claimed = await Assert.ThrowsAsync<StratusApiException>(() => admin.Runs.CreateAsync(new CreateRunRequest("owned", Tags: new Dictionary<string, string> { ["job_id"] = job.Id })));
        Assert.Equal((HttpStatusCode.BadRequest, "tags.job_id"), (claimed.Status, claimed.Field));
    }

    [Fact]
    public async Task Should_let_only_the_owner_or_an_admin_change_a_model_or_cancel_a_job()
    {
        var ann = await EditorAsync($"ann-{Guid.NewGuid():N}");
        var bob = await EditorAsync($"bob-{Guid.NewGuid():N}");
        var model = $"anns-model-{Guid.NewGuid():N}"[..24];
        await ann.Datasets.UploadAsync("anns-train", new MemoryStream("x,y\n1,0\n2,1\n3,0\n4,1\n5,0\n6,1\n7,0\n8,1\n"u8.ToArray()));
        var trained = await ann.Jobs.WaitAsync((await ann.Jobs.TrainAsync(new TrainRequest("anns-train", "y", Register: model, Iterations: 2, Folds: 2))).Id, ct: TestContext.Current.CancellationToken);
        Assert.Equal(JobStatus.Succeeded, trained.Status);

        var alias = await Assert.ThrowsAsync<StratusApiException>(() => bob.Models.SetAliasAsync(model, "champion", 1));
        var register = await Assert.ThrowsAsync<StratusApiException>(() => bob.Jobs.TrainAsync(new TrainRequest("anns-train", "y", Register: model, Iterations: 2)));
        Assert.Equal((HttpStatusCode.Forbidden, HttpStatusCode.Forbidden), (alias.Status, register.Status));
        Assert.Contains($"model '{model}' belongs to ann-", alias.Detail);
        Assert.Equal(1, (await ann.Models.SetAliasAsync(model, "champion", 1)).Version);

        var long_ = await ann.Jobs.TrainAsync(new TrainRequest("anns-train", "y", Iterations: 2000, Folds: 5));
        var cancel = await Assert.ThrowsAsync<StratusApiException>(() => bob.Jobs.CancelAsync(long_.Id));
        Assert.Equal(HttpStatusCode.Forbidden, cancel.Status);
        Assert.Contains($"job '{long_.Id}' belongs to ann-", cancel.Detail);
        await shared.Server.Client().Jobs.WaitAsync(long_.Id, ct: TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Should_let_only_the_owner_or_an_admin_delete_a_dataset()
    {
        var ann = await EditorAsync($"ann-{Guid.NewGuid():N}");
        var bob = await EditorAsync($"bob-{Guid.NewGuid():N}");
        await ann.Datasets.UploadAsync("anns-data", new MemoryStream("a,b\n1,2\n"u8.ToArray()));

        var version = await Assert.ThrowsAsync<StratusApiException>(() => bob.Datasets.DeleteAsync("anns-data:1"));
        var whole = await Assert.ThrowsAsync<StratusApiException>(() => bob.Datasets.DeleteAsync("anns-data"));

        Assert.Equal((HttpStatusCode.Forbidden, HttpStatusCode.Forbidden), (version.Status, whole.Status));
        Assert.Contains("dataset 'anns-data' belongs to ann-", whole.Detail);
        Assert.Equal(1, (await ann.Datasets.GetAsync("anns-data:1")).Version);
        await ann.Datasets.DeleteAsync("anns-data");
    }
}
