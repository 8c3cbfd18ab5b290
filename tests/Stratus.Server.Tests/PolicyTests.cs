using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Stratus.Client;
using Stratus.Testing;

namespace Stratus.Server.Tests;

/// <summary>Monitoring policies: the closed loop from drift to a promoted challenger, schedules, failures and alerts.</summary>
public sealed class PolicyTests : IAsyncLifetime
{
    private readonly ConcurrentQueue<WebhookEvent> _alerts = new();
    private WebApplication _receiver = null!;
    private TestServer _server = null!;
    private StratusClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        // A webhook receiver on loopback, allowed for these tests only (a server refuses private addresses by default).
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _receiver = builder.Build();
        _receiver.MapPost("/hook", async (HttpContext context) =>
        {
            _alerts.Enqueue((await JsonSerializer.DeserializeAsync(context.Request.Body, StratusJsonContext.Default.WebhookEvent))!);
            return Results.Ok();
        });
        await _receiver.StartAsync(TestContext.Current.CancellationToken);
        _server = await TestServer.StartAsync(o =>
        {
            o.Monitoring.MonitorTick = TimeSpan.FromMilliseconds(200);
            o.Monitoring.WebhookAllowPrivate = true;
        });
        _client = _server.Client();
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        await _receiver.DisposeAsync();
    }

    private string Hook => _receiver.Urls.First() + "/hook";

    /// <summary>
    /// Payments. Before the shift fraud is in the large amounts; after it, amounts are larger for everyone and say
    /// nothing, and fraud happens at night: a model that learned amounts is left guessing.
    /// </summary>
    private static List<Dictionary<string, object>> Payments(int rows, int seed, bool shifted)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, rows).Select(_ =>
        {
            var fraud = random.NextDouble() < 0.3;
            var hour = shifted ? (fraud ? random.Next(0, 5) : random.Next(5, 24)) : random.Next(24);
            var amount = shifted ? 200 + (random.NextDouble() * 400) : (fraud ? 400 : 30) + (random.NextDouble() * 40);
            return new Dictionary<string, object> { ["amount"] = Math.Round(amount, 2), ["hour"] = hour, ["fraud"] = fraud ? 1 : 0 };
        })];
    }

    private async Task UploadAsync(string name, List<Dictionary<string, object>> rows, bool withTarget = true)
    {
        var csv = new StringBuilder(withTarget ? "amount,hour,fraud\n" : "amount,hour\n");
        foreach (var r in rows)
        {
            if (withTarget) csv.Append(CultureInfo.InvariantCulture, $"{r["amount"]},{r["hour"]},{r["fraud"]}\n");
            else csv.Append(CultureInfo.InvariantCulture, $"{r["amount"]},{r["hour"]}\n");
        }
        await _client.Datasets.UploadAsync(name, new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString())));
    }

    /// <summary>Trains <c>NAME-model</c> on the pre-shift payments and serves it as endpoint NAME, capturing every request.</summary>
    private async Task DeployAsync(string name)
    {
        await UploadAsync($"{name}-data", Payments(600, 1, shifted: false));
        var job = await _client.Jobs.TrainAsync(new TrainRequest($"{name}-data", "fraud", Register: $"{name}-model", Iterations: 20, Folds: 2));
        var done = await _client.Jobs.WaitAsync(job.Id, ct: TestContext.Current.CancellationToken);
        Assert.True(done.Status == JobStatus.Succeeded, done.Error);
        await _client.Endpoints.DeployAsync(name, $"{name}-model");
        await _client.Endpoints.SetCaptureAsync(name, 1);
    }

    private readonly ConcurrentDictionary<string, int> _sent = new();

    /// <summary>Sends the rows (without their label) 50 to a request; returns each row's request id and index in its request.</summary>
    private async Task<List<(string RequestId, int Row)>> SendAsync(string endpoint, List<Dictionary<string, object>> rows)
    {
        var total = _sent.AddOrUpdate(endpoint, rows.Count, (_, n) => n + rows.Count);
        var sent = new List<(string, int)>();
        foreach (var chunk in rows.Chunk(50))
        {
            var instances = chunk.Select(r => r.Where(kv => kv.Key != "fraud").ToDictionary(kv => kv.Key, kv => JsonSerializer.SerializeToElement(kv.Value))).ToList();
            var response = await _client.Endpoints.PredictAsync(endpoint, new PredictRequest(instances));
            sent.AddRange(instances.Select((_, i) => (response.RequestId, i)));
        }
        // Capture files are written about once a second.
        for (var i = 0; i < 200 && await TestDatabase.CapturedRowsAsync(_server.DataDir, endpoint) < total; i++)
            await Task.Delay(100, TestContext.Current.CancellationToken);
        return sent;
    }

    private async Task<PolicyDecision> WaitForDecisionAsync(string endpoint, long id)
    {
        for (var i = 0; i < 600; i++)
        {
            var decision = (await _client.Monitoring.DecisionsAsync(endpoint, ct: TestContext.Current.CancellationToken)).Single(d => d.Id == id);
            if (decision.Status != "retraining") return decision;
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
        throw new TimeoutException($"decision {id} was still retraining after 2 minutes");
    }

    [Fact]
    public async Task Should_close_the_loop_drift_fires_the_policy_a_challenger_trains_wins_on_the_shifted_holdout_and_is_promoted()
    {
        await DeployAsync("loop");
        await _client.Monitoring.SetPolicyAsync("loop", new MonitorPolicy(Drift: "psi>0.2", WindowMinutes: 60, Retrain: "train", Canary: 50, Step: 50, IntervalSeconds: 1,
            Webhooks: [Hook]));

        // Before the world moves: a resample of the training distribution fires nothing.
        await SendAsync("loop", Payments(300, 2, shifted: false));
        var calm = await _client.Monitoring.RunPolicyAsync("loop");
        Assert.Equal(("ok", "manual"), (calm.Status, calm.Trigger));
        Assert.Contains("no column's psi above 0.2", calm.Reasons[0]);

        // The world moves; the team lands the new labelled data as the next version of the training dataset.
        await UploadAsync("loop-data", Payments(800, 3, shifted: true));
        var start = DateTimeOffset.UtcNow;
        await SendAsync("loop", Payments(300, 4, shifted: true));
        await _client.Monitoring.SetPolicyAsync("loop", new MonitorPolicy(Drift: "psi>0.2", WindowMinutes: (DateTimeOffset.UtcNow - start).TotalMinutes + 0.05,
            Retrain: "train", Canary: 50, Step: 50, IntervalSeconds: 1, Webhooks: [Hook]));
        var fired = await _client.Monitoring.RunPolicyAsync("loop");
        Assert.Equal("retraining", fired.Status);
        Assert.Matches(@"amount: psi \d", fired.Reasons[0]);
        Assert.Contains("loop-data:2", fired.Reasons[1]);
        Assert.Equal(("loop-data-train:1", "loop-data-holdout:1"), (fired.TrainingData, fired.Holdout));
        Assert.NotNull(fired.JobId);
        Assert.NotNull(fired.DriftReportId);

        // The challenger trains on the new data, is judged beside the champion on the same holdout, wins, and is promoted.
        var decided = await WaitForDecisionAsync("loop", fired.Id);
        TestContext.Current.TestOutputHelper?.WriteLine(string.Join("\n", decided.Reasons));
        Assert.True(decided.Status == "promoted", string.Join("\n", decided.Reasons));
        Assert.Equal(new ModelVersionRef("loop-model", 2), decided.Challenger);
        Assert.Equal("auc", decided.Metric);
        Assert.True(decided.Scores["challenger"] > decided.Scores["champion"] + 0.2, $"champion {decided.Scores["champion"]}, challenger {decided.Scores["challenger"]}");
        Assert.Equal(2, (await _client.Models.ResolveAsync("loop-model@champion")).Version);
        var rollout = await _client.Endpoints.GetRolloutAsync("loop");
        Assert.Equal((decided.RolloutId, new ModelVersionRef("loop-model", 2)), (rollout.Id, rollout.To));

        // Alerts: fired, then promoted, each with the decision.
        Assert.Equal(["policy_fired", "promoted"], _alerts.Select(a => a.Event));
        Assert.All(_alerts, a => Assert.Equal("loop", a.Endpoint));
        Assert.Equal(2, decided.Alerts.Count);
        Assert.All(decided.Alerts, a => Assert.Equal(200, a.Status));
        // Webhook URLs often carry their secret in the path: the API shows only where they go.
        Assert.All(decided.Alerts, a => Assert.Equal($"{new Uri(Hook).GetLeftPart(UriPartial.Authority)}/…", a.Url));
        Assert.Equal([$"{new Uri(Hook).GetLeftPart(UriPartial.Authority)}/…"], (await _client.Monitoring.GetPolicyAsync("loop")).Policy.Webhooks);

        // Healthy traffic carries the rollout through; the endpoint then serves the challenger alone.
        for (var i = 0; i < 100 && (await _client.Endpoints.GetRolloutAsync("loop")).Status == "running"; i++)
            await SendAsync("loop", Payments(50, 100 + i, shifted: true));
        Assert.Equal("completed", (await _client.Endpoints.GetRolloutAsync("loop")).Status);
        Assert.Equal(new ModelVersionRef("loop-model", 2), (await _client.Endpoints.GetAsync("loop")).Model);

        // Every decision is kept with its evidence, newest first; the promotion is in the audit log.
        var history = await _client.Monitoring.DecisionsAsync("loop");
        Assert.Equal(["promoted", "ok"], history.Select(d => d.Status));
        var audit = await _client.AuditAsync(actor: "stratus:policy");
        Assert.Contains(audit.Items, e => e.Detail?.StartsWith("promoted", StringComparison.Ordinal) == true);

        // The new champion learned from the policy's own split; its next retraining reads the team's dataset again, not that split.
        await _client.Monitoring.SetPolicyAsync("loop", new MonitorPolicy(Drift: "psi>0", WindowMinutes: 60, Retrain: "train"));
        var again = await _client.Monitoring.RunPolicyAsync("loop");
        Assert.True(again.Status == "retraining", string.Join("\n", again.Reasons));
        Assert.Equal(new ModelVersionRef("loop-model", 2), again.Champion);
        Assert.Contains("retraining data: loop-data:2 split into loop-data-train:1", again.Reasons[1]);
        await WaitForDecisionAsync("loop", again.Id);
    }

    [Fact]
    public async Task Should_run_on_schedule_report_insufficient_data_and_keep_the_champion_when_retraining_fails()
    {
        await DeployAsync("sched");

        // Every second, no traffic yet: the checks say so rather than "no drift".
        var set = await _client.Monitoring.SetPolicyAsync("sched", new MonitorPolicy(Drift: "drift", Schedule: "* * * * * *", WindowMinutes: 60, Retrain: "train", Webhooks: [Hook]));
        Assert.NotNull(set.NextCheckAt);
        PolicyDecision? scheduled = null;
        for (var i = 0; i < 100 && scheduled is null; i++)
        {
            var list = await _client.Monitoring.DecisionsAsync("sched");
            scheduled = list.Count > 0 ? list[0] : null;
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        Assert.NotNull(scheduled);
        Assert.Equal(("schedule", "insufficient_data"), (scheduled.Trigger, scheduled.Status));
        Assert.Contains("not judged", scheduled.Reasons[0]);
        await _client.Monitoring.SetPolicyAsync("sched", new MonitorPolicy(Drift: "drift", WindowMinutes: 60, Retrain: "train", Webhooks: [Hook]));

        // The newest data lost its label column: the trigger fires, the retraining cannot run, the champion stays.
        await UploadAsync("sched-data", Payments(400, 5, shifted: true), withTarget: false);
        await SendAsync("sched", Payments(300, 6, shifted: true));
        var failed = await _client.Monitoring.RunPolicyAsync("sched");
        Assert.True(failed.Status == "retrain_failed", string.Join("\n", failed.Reasons));
        Assert.Contains("fraud", failed.Reasons[^1]);
        Assert.Contains("sched-model:1 stays", failed.Reasons[^1]);
        Assert.Equal(new ModelVersionRef("sched-model", 1), (await _client.Endpoints.GetAsync("sched")).Model);
        Assert.Contains(_alerts, a => a.Event == "retrain_failed" && a.Endpoint == "sched");

        // With the label back, an AutoML retraining starts; stopped by hand, it ends as a failed retraining and the champion stays.
        await UploadAsync("sched-data", Payments(400, 8, shifted: true));
        await _client.Monitoring.SetPolicyAsync("sched", new MonitorPolicy(Drift: "drift", WindowMinutes: 60, Retrain: "automl:60s", Webhooks: [Hook]));
        var started = await _client.Monitoring.RunPolicyAsync("sched");
        Assert.True(started.Status == "retraining", string.Join("\n", started.Reasons));
        await _client.Jobs.CancelAsync(started.JobId!);
        var cancelled = await WaitForDecisionAsync("sched", started.Id);
        Assert.Equal("retrain_failed", cancelled.Status);
        Assert.Matches(@"retraining job \S+ ended CANCELLED.*; sched-model:1 stays", cancelled.Reasons[^1]);
        Assert.Equal(new ModelVersionRef("sched-model", 1), (await _client.Endpoints.GetAsync("sched")).Model);
        Assert.Equal(2, _alerts.Count(a => a.Event == "retrain_failed" && a.Endpoint == "sched"));
    }

    [Fact]
    public async Task Should_fire_on_live_auc_from_feedback_retrain_with_the_feedback_and_only_record_when_promotion_is_off()
    {
        await DeployAsync("perf");
        await _client.Monitoring.SetPolicyAsync("perf", new MonitorPolicy(Metric: "auc<0.85", WindowMinutes: 60, MinRows: 50, Retrain: "train", Promote: "never", WithFeedback: true));

        // Too few labels yet: not judged.
        var shifted = Payments(300, 7, shifted: true);
        var ids = await SendAsync("perf", shifted);
        var early = await _client.Monitoring.RunPolicyAsync("perf");
        Assert.Equal("insufficient_data", early.Status);
        Assert.Contains("0 labelled predictions", early.Reasons[0]);

        // The true outcomes arrive: the model that learned amounts ranks the new fraud no better than chance.
        await _client.Monitoring.FeedbackAsync("perf", [.. ids.Select((id, i) => new FeedbackItem(id.RequestId, JsonSerializer.SerializeToElement(shifted[i]["fraud"]), id.Row))]);
        var fired = await _client.Monitoring.RunPolicyAsync("perf");
        Assert.True(fired.Status == "retraining", string.Join("\n", fired.Reasons));
        Assert.Matches(@"^auc 0\.\d+ over 300 labelled predictions breaks auc<0.85$", fired.Reasons[0]);
        Assert.Contains("perf-data:1 with 300 labelled feedback rows", fired.Reasons[1]);

        // Trained on the old data and the labelled new traffic, the challenger wins on the holdout, but this policy only records it.
        var decided = await WaitForDecisionAsync("perf", fired.Id);
        Assert.True(decided.Status == "kept", string.Join("\n", decided.Reasons));
        Assert.True(decided.Scores["challenger"] > decided.Scores["champion"], string.Join("\n", decided.Reasons));
        Assert.Contains("promotion is off", decided.Reasons[^1]);
        Assert.Equal(new ModelVersionRef("perf-model", 1), (await _client.Endpoints.GetAsync("perf")).Model);
        Assert.Equal(2, (await _client.Models.ResolveAsync("perf-model")).Version);
    }

    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("::ffff:127.0.0.1", false)] // IPv4-mapped
    [InlineData("::ffff:10.1.2.3", false)]
    [InlineData("::127.0.0.1", false)] // IPv4-compatible
    [InlineData("::10.0.0.1", false)]
    [InlineData("64:ff9b::7f00:1", false)] // NAT64 of 127.0.0.1
    [InlineData("64:ff9b::a9fe:a9fe", false)] // NAT64 of 169.254.169.254, the cloud metadata address
    [InlineData("64:ff9b:1::c0a8:101", false)] // local-use NAT64 of 192.168.1.1
    [InlineData("2002:7f00:1::1", false)] // 6to4 of 127.0.0.1
    [InlineData("2002:c0a8:101::1", false)] // 6to4 of 192.168.1.1
    [InlineData("2001:0:4136:e378:8000:63bf:3fff:fdd2", false)] // Teredo
    [InlineData("2001:db8::1", false)] // documentation
    [InlineData("100::1", false)] // discard only
    [InlineData("::", false)]
    [InlineData("::1", false)]
    [InlineData("fd00::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("8.8.8.8", true)]
    [InlineData("::ffff:8.8.8.8", true)]
    [InlineData("64:ff9b::808:808", true)]
    [InlineData("2002:808:808::1", true)]
    [InlineData("2606:4700::1111", true)]
    public void Should_judge_ipv6_forms_that_carry_an_ipv4_address_by_that_address(string address, bool isPublic) =>
        Assert.Equal(isPublic, Stratus.Server.Monitoring.Webhooks.IsPublic(System.Net.IPAddress.Parse(address)));

    [Fact]
    public async Task Should_refuse_bad_policies_naming_the_field_and_webhooks_to_private_addresses()
    {
        await DeployAsync("strict");
        async Task<string> RefusedAsync(MonitorPolicy policy)
        {
            var ex = await Assert.ThrowsAsync<StratusApiException>(() => _client.Monitoring.SetPolicyAsync("strict", policy));
            Assert.Equal(HttpStatusCode.BadRequest, ex.Status);
            return ex.Detail;
        }
        Assert.StartsWith("drift: a policy needs a trigger", await RefusedAsync(new MonitorPolicy()));
        Assert.StartsWith("drift: 'psi=0.2'", await RefusedAsync(new MonitorPolicy(Drift: "psi=0.2")));
        Assert.StartsWith("metric: 'speed<3'", await RefusedAsync(new MonitorPolicy(Metric: "speed<3")));
        Assert.StartsWith("schedule: 'every day'", await RefusedAsync(new MonitorPolicy(Drift: "drift", Schedule: "every day")));
        Assert.StartsWith("retrain: 'automl:2s'", await RefusedAsync(new MonitorPolicy(Drift: "drift", Retrain: "automl:2s")));
        Assert.StartsWith("promote: 'sometimes'", await RefusedAsync(new MonitorPolicy(Drift: "drift", Promote: "sometimes")));
        Assert.StartsWith("webhooks[0]: 'ftp://x'", await RefusedAsync(new MonitorPolicy(Drift: "drift", Webhooks: ["ftp://x"])));
        var missing = await Assert.ThrowsAsync<StratusApiException>(() => _client.Monitoring.RunPolicyAsync("strict"));
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Contains("stratus monitor set strict", missing.Detail);

        // A server left at its defaults refuses loopback and private webhooks, by address and by what a name resolves to.
        await using var server = await TestServer.StartAsync(o => o.Monitoring.WebhookHosts = "127.0.0.1;10.1.2.3;localhost;hooks.example.com");
        var client = server.Client();
        await client.Datasets.UploadAsync("d", new MemoryStream("x,y\n1,0\n2,1\n3,0\n4,1\n5,0\n6,1\n7,0\n8,1\n"u8.ToArray()));
        var job = await client.Jobs.WaitAsync((await client.Jobs.TrainAsync(new TrainRequest("d", "y", Register: "m", Iterations: 2, Folds: 2))).Id, ct: TestContext.Current.CancellationToken);
        Assert.Equal(JobStatus.Succeeded, job.Status);
        await client.Endpoints.DeployAsync("e", "m");
        var byHost = await Assert.ThrowsAsync<StratusApiException>(() => client.Monitoring.SetPolicyAsync("e", new MonitorPolicy(Drift: "drift", Webhooks: ["https://evil.example.net/x"])));
        Assert.Contains("not among the allowed webhook hosts", byHost.Detail);
        foreach (var url in new[] { "http://127.0.0.1/x", "https://10.1.2.3/x" })
        {
            var byAddress = await Assert.ThrowsAsync<StratusApiException>(() => client.Monitoring.SetPolicyAsync("e", new MonitorPolicy(Drift: "drift", Webhooks: [url])));
            Assert.Contains("is not a public address", byAddress.Detail);
        }

        // And at send time: the connection is refused by the resolved address, recorded beside the decision.
        var webhooks = new Stratus.Server.Monitoring.Webhooks(new Stratus.Server.Monitoring.MonitoringSettings { WebhookHosts = "" }, TimeProvider.System);
        using (webhooks)
        {
            var decision = new PolicyDecision(1, "e", "manual", "fired", ["test"], new ModelVersionRef("m", 1), null, null, null, null, null, null,
                new Dictionary<string, double>(), null, [], DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);
            // A name passes the URL checks and is judged by the address it resolves to, at connect time: localhost is loopback.
            var sent = await webhooks.SendAsync([Hook.Replace("127.0.0.1", "localhost", StringComparison.Ordinal)], "policy_fired", decision,
                _ => Task.FromResult<string?>(null), TestContext.Current.CancellationToken);
            Assert.Null(sent.Single().Status);
            Assert.Contains("not a public address", sent.Single().Error);
        }
        Assert.Empty(_alerts);
    }

    [Fact]
    public async Task Should_call_a_webhook_whose_url_is_a_secret_and_never_show_the_secret()
    {
        var ct = TestContext.Current.CancellationToken;
        await DeployAsync("vault");
        // A policy naming a secret that does not exist is refused, by field and name.
        var unknown = await Assert.ThrowsAsync<StratusApiException>(() =>
            _client.Monitoring.SetPolicyAsync("vault", new MonitorPolicy(Drift: "drift", Webhooks: ["secret:vault-hook"]), ct));
        Assert.Contains("webhooks[0]: names secret 'vault-hook', which does not exist", unknown.Detail);

        const string marker = "vault-marker-7Qx";
        await _client.SetSecretAsync("vault-hook", $"{Hook}?key={marker}", ct);
        var set = await _client.Monitoring.SetPolicyAsync("vault", new MonitorPolicy(Drift: "drift", WindowMinutes: 60, Retrain: "train", Webhooks: ["secret:vault-hook"]), ct);
        Assert.Equal(["secret:vault-hook"], set.Policy.Webhooks);

        // The newest data lost its label: the policy fires, the retraining fails, and the alert goes to the secret's URL.
        await UploadAsync("vault-data", Payments(400, 5, shifted: true), withTarget: false);
        await SendAsync("vault", Payments(300, 6, shifted: true));
        var failed = await _client.Monitoring.RunPolicyAsync("vault", ct);
        Assert.True(failed.Status == "retrain_failed", string.Join("\n", failed.Reasons));
        Assert.Contains(_alerts, a => a.Event == "retrain_failed" && a.Endpoint == "vault");
        var delivery = Assert.Single(failed.Alerts);
        Assert.Equal(("secret:vault-hook", 200), (delivery.Url, delivery.Status));

        // No route shows the value: not the list, not the policy, not the decision, not the audit log, where its use is a row.
        using var http = _server.Http(_server.AdminToken);
        foreach (var path in new[] { "api/v1/secrets", "api/v1/endpoints/vault/policy", "api/v1/endpoints/vault/policy/decisions", "api/v1/audit?page_size=500" })
        {
            var body = await http.GetStringAsync(path, ct);
            Assert.DoesNotContain(marker, body, StringComparison.Ordinal);
        }
        var listed = Assert.Single(await _client.SecretsAsync(ct), s => s.Name == "vault-hook");
        Assert.Equal("admin", listed.UpdatedBy);
        Assert.Contains((await _client.AuditAsync(pageSize: 500, ct: ct)).Items, a => a.Method == "USE" && a.Path == "/api/v1/secrets/vault-hook");
        // Sealed at rest: the column holds no byte of the value.
        using (var scope = _server.Services.CreateScope())
        {
            var stored = await scope.ServiceProvider.GetRequiredService<Stratus.Server.Storage.StratusDb>().Database
                .SqlQueryRaw<string>("SELECT \"Value\" AS \"Value\" FROM secrets").ToListAsync(ct);
            Assert.DoesNotContain(stored, v => v.Contains(marker, StringComparison.Ordinal));
        }

        // Only admins see or set secrets; deleted, it is gone, and the next alert says so by name.
        using (var viewer = _server.Http((await _client.Tokens.CreateAsync("vault-viewer", "viewer", ct: ct)).Token))
        {
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, (await viewer.GetAsync("api/v1/secrets", ct)).StatusCode);
        }
        await _client.DeleteSecretAsync("vault-hook", ct);
        Assert.DoesNotContain(await _client.SecretsAsync(ct), s => s.Name == "vault-hook");
        var again = await _client.Monitoring.RunPolicyAsync("vault", ct);
        Assert.Equal("secret 'vault-hook' does not exist", Assert.Single(again.Alerts).Error);
    }
}
