using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Stratus.Client;
using Stratus.Server.Kernel;
using Stratus.Server.Registry;
using Stratus.Server.Serving;
using Stratus.Testing;

namespace Stratus.Server.Tests;

public sealed class EndpointsTests : IAsyncLifetime
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("stratus-endpoints-").FullName;
    private TestServer _server = null!;
    private StratusClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        // Replicas check every 200 ms whether they are still needed (1 s by default), so that idle ones stop within a test.
        _server = await TestServer.StartAsync(o => o.Serving.ReplicaTick = TimeSpan.FromMilliseconds(200), _dataDir);
        _client = _server.Client();
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        TestServer.TryDelete(_dataDir);
    }

    private async Task<ModelVersionRef> TrainAsync(string model, int seed, string amount = "amount")
    {
        var random = new Random(seed);
        var csv = new StringBuilder($"{amount},category,fraud\n");
        for (var i = 0; i < 300; i++)
        {
            var fraud = random.NextDouble() < 0.3;
            csv.Append(CultureInfo.InvariantCulture, $"{(fraud ? 400 : 30) + random.NextDouble() * 40:F2},{(fraud ? "online" : "grocery")},{(fraud ? 1 : 0)}\n");
        }
        await _client.Datasets.UploadAsync($"ep-data-{seed}", new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString())));
        var job = await _client.Jobs.TrainAsync(new TrainRequest($"ep-data-{seed}", "fraud", Register: model, Iterations: 20, Folds: 2));
        var done = await _client.Jobs.WaitAsync(job.Id, ct: TestContext.Current.CancellationToken);
        Assert.True(done.Status == JobStatus.Succeeded, done.Error);
        return done.Result!.Model!;
    }

    private static PredictRequest Rows(params string[] json) =>
        new([.. json.Select(j => JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(j)!)]);

    [Fact]
    public async Task Should_deploy_predict_switch_versions_and_come_back_after_a_restart()
    {
        var v1 = await TrainAsync("ep-fraud", 1);
        await _client.Models.SetAliasAsync("ep-fraud", "champion", v1.Version);
        var endpoint = await _client.Endpoints.DeployAsync("fraud", "ep-fraud@champion");
        Assert.Equal(v1, endpoint.Model);

        var answer = await _client.Endpoints.PredictAsync("fraud", Rows("""{"amount": 420, "category": "online"}""", """{"amount": 35, "category": "grocery"}"""));
        Assert.Equal(["1", "0"], answer.Predictions.Select(p => p.Label));
        Assert.True(answer.Predictions[0].Probabilities!["1"] > 0.8);
        Assert.Equal(v1, answer.Model);
        Assert.False(string.IsNullOrEmpty(answer.RequestId));

        // Switching while requests flow drops none of them.
        var v2 = await TrainAsync("ep-fraud", 2);
        using var stop = new CancellationTokenSource();
        var traffic = Task.Run(async () =>
        {
            var served = new List<int>();
            while (!stop.IsCancellationRequested)
                served.Add((await _client.Endpoints.PredictAsync("fraud", Rows("""{"amount": 50, "category": "grocery"}"""))).Model.Version);
            return served;
        });
        await Task.Delay(200, TestContext.Current.CancellationToken);
        await _client.Endpoints.DeployAsync("fraud", $"ep-fraud:{v2.Version}");
        await Task.Delay(200, TestContext.Current.CancellationToken);
        await stop.CancelAsync();
        var versions = await traffic;
        Assert.Contains(v2.Version, versions);
        Assert.Equal(v2.Version, versions[^1]);

        await _server.DisposeAsync();
        _server = await TestServer.StartAsync(dataDir: _dataDir);
        _client = _server.Client();
        var again = await _client.Endpoints.PredictAsync("fraud", Rows("""{"amount": 420, "category": "online"}"""));
        Assert.Equal(v2, again.Model);
        Assert.Equal("fraud", Assert.Single((await _client.Endpoints.ListAsync()).Items).Name);
    }

    [Fact]
    public async Task Should_refuse_requests_that_do_not_fit_the_signature_and_keep_serving()
    {
        await TrainAsync("ep-strict", 3);
        await _client.Endpoints.DeployAsync("strict", "ep-strict");

        var missing = await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.PredictAsync("strict", Rows("""{"category": "online"}""")));
        Assert.Equal((HttpStatusCode.BadRequest, "instances[0].amount"), (missing.Status, missing.Field));
        var wrongType = await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.PredictAsync("strict", Rows("""{"amount": 1, "category": "grocery"}""", """{"amount": "lots", "category": "online"}""")));
        Assert.Equal("instances[1].amount", wrongType.Field);
        Assert.Contains("expected a number", wrongType.Detail);
        // A category the model never saw scores as unseen, unless the endpoint is set to be strict.
        Assert.NotNull((await _client.Endpoints.PredictAsync("strict", Rows("""{"amount": 1, "category": "casino"}"""))).Predictions[0].Label);
        var limits = (await _client.Endpoints.GetAsync("strict")).Limits;
        Assert.False(limits.StrictCategories);
        Assert.True((await _client.Endpoints.SetLimitsAsync("strict", limits with { StrictCategories = true })).Limits.StrictCategories);
        var unknownCategory = await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.PredictAsync("strict", Rows("""{"amount": 1, "category": "casino"}""")));
        Assert.Equal("instances[0].category", unknownCategory.Field);
        Assert.Contains("unknown category 'casino'", unknownCategory.Detail);
        var empty = await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.PredictAsync("strict", new PredictRequest([])));
        Assert.Equal("instances", empty.Field);
        var huge = await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.PredictAsync("strict",
            new PredictRequest([.. Enumerable.Range(0, 10_001).Select(_ => new Dictionary<string, JsonElement>())])));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.Status);
        var unknown = await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.PredictAsync("nowhere", Rows("{}")));
        Assert.Equal(HttpStatusCode.NotFound, unknown.Status);

        Assert.Single((await _client.Endpoints.PredictAsync("strict", Rows("""{"amount": 10, "category": "grocery"}"""))).Predictions);

        // The endpoint's traffic, second by second: the two answered requests and the refused ones (the model failed on none).
        IReadOnlyList<TrafficPoint> traffic = [];
        for (var i = 0; i < 50 && traffic.Sum(p => p.Requests - p.Rejected) < 2; i++)
        {
            await Task.Delay(200, TestContext.Current.CancellationToken);
            traffic = await _client.Endpoints.TrafficAsync("strict");
        }
        Assert.Equal(2, traffic.Sum(p => p.Requests - p.Rejected));
        Assert.True(traffic.Sum(p => p.Rejected) >= 3, $"{traffic.Sum(p => p.Rejected)} refused");
        Assert.Equal(0, traffic.Sum(p => p.Errors));
        Assert.All(traffic, p => Assert.InRange(p.Seconds, 0.5, 5));
        Assert.Contains(traffic, p => p.P99Ms is > 0);
    }

    [Fact]
    public async Task Should_answer_on_the_fast_path_as_on_the_routed_one_and_audit_predictions_only_when_refused()
    {
        await TrainAsync("ep-quick", 4);
        await _client.Endpoints.DeployAsync("quick", "ep-quick");
        var viewer = await _client.Tokens.CreateAsync("quick-viewer", "viewer");
        using var http = _server.Http(viewer.Token);
        var ct = TestContext.Current.CancellationToken;
        async Task<(HttpStatusCode Status, JsonElement Body)> Post(string path, string body, string type = "application/json")
        {
            using var response = await http.PostAsync(path, new StringContent(body, Encoding.UTF8, type), ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
        }
        const string Row = """{"instances": [{"amount": 420, "category": "online"}, {"amount": 35, "category": "grocery"}]}""";

        // A token not seen before is looked up by the routed endpoint; then it is cached and the fast path answers, the same.
        var routed = await Post("api/v1/endpoints/quick/predict", Row);
        var fast = await Post("api/v1/endpoints/quick/predict", Row);
        Assert.Equal(HttpStatusCode.OK, routed.Status);
        Assert.Equal(routed.Body.GetProperty("predictions").GetRawText(), fast.Body.GetProperty("predictions").GetRawText());
        Assert.Equal(routed.Body.GetProperty("model").GetRawText(), fast.Body.GetProperty("model").GetRawText());
        Assert.NotEqual(routed.Body.GetProperty("request_id").GetString(), fast.Body.GetProperty("request_id").GetString());
        Assert.Equal(HttpStatusCode.OK, (await Post("API/V1/Endpoints/quick/PREDICT", Row)).Status);

        // Bad requests get the answers the full pipeline gives.
        var broken = await Post("api/v1/endpoints/quick/predict", """{"instances": [""");
        Assert.Equal((HttpStatusCode.BadRequest, "Invalid JSON"), (broken.Status, broken.Body.GetProperty("title").GetString()));
        var notRows = await Post("api/v1/endpoints/quick/predict", """{"instances": "all of them"}""");
        Assert.Equal((HttpStatusCode.BadRequest, "instances"), (notRows.Status, notRows.Body.GetProperty("field").GetString()));
        var wrongType = await Post("api/v1/endpoints/quick/predict", """{"instances": [{"amount": "lots", "category": "online"}]}""");
        Assert.Equal((HttpStatusCode.BadRequest, "instances[0].amount"), (wrongType.Status, wrongType.Body.GetProperty("field").GetString()));
        Assert.Equal(HttpStatusCode.BadRequest, (await Post("api/v1/endpoints/quick/predict", "null")).Status);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await Post("api/v1/endpoints/quick/predict", Row, "text/plain")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Post("api/v1/endpoints/nowhere/predict", Row)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Post("api/v1/endpoints/quick/predict/more", Row)).Status);

        // A revoked token stops at once, on either path; predictions, answered or not, are audited only when refused
        // (a body that is not JSON never reaches the prediction: routing answers 415, audited like any refused POST).
        await _client.Tokens.RevokeAsync(viewer.Info.Id);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Post("api/v1/endpoints/quick/predict", Row)).Status);
        var audited = (await _client.AuditAsync(actor: "quick-viewer")).Items;
        Assert.DoesNotContain(audited, e => e.Path.EndsWith("/predict", StringComparison.OrdinalIgnoreCase) && e.Status is 200 or 400);
        var anonymous = (await _client.AuditAsync(actor: "anonymous", outcome: "refused")).Items;
        Assert.Contains(anonymous, e => e.Path == "/api/v1/endpoints/quick/predict" && e.Status == 401);
    }

    [Fact]
    public async Task Should_import_an_onnx_model_serve_it_as_its_source_computes_and_refuse_bad_ones_at_import()
    {
        var (onnx, source) = OnnxGraph.Mlp(11, 3, 32, 3);
        var signature = new OnnxSignature(Classes: ["low", "mid", "high"], Inputs: [new OnnxInput("x", ["a", "b", "c"])], Scores: "logits", Target: "risk");
        var version = await _client.Models.ImportAsync("risk-net", new MemoryStream(onnx), "risk.onnx", signature, "exported from PyTorch");
        Assert.Equal(("risk-net", 1, RegistryService.ImportExperiment), (version.Name, version.Version, version.Lineage.ExperimentName));
        var run = await _client.Runs.GetAsync(version.RunId);
        Assert.Equal(("risk.onnx", "onnx"), (run.Params["source"], run.Params["format"]));

        await _client.Endpoints.DeployAsync("risk", "risk-net:1");
        var random = new Random(5);
        var rows = Enumerable.Range(0, 20).Select(_ => new[] { (float)random.NextDouble(), (float)(random.NextDouble() * 3), (float)-random.NextDouble() }).ToList();
        var answer = await _client.Endpoints.PredictAsync("risk", Rows([.. rows.Select(x => string.Create(CultureInfo.InvariantCulture, $$"""{"a": {{x[0]}}, "b": {{x[1]}}, "c": {{x[2]}}}"""))]));
        for (var r = 0; r < rows.Count; r++)
        {
            var logits = source(rows[r]);
            var exp = logits.Select(v => Math.Exp(v - logits.Max())).ToArray();
            Assert.Equal(exp[1] / exp.Sum(), answer.Predictions[r].Probabilities!["mid"], 1e-5);
        }
        var wrong = await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.PredictAsync("risk", Rows("""{"a": 1, "b": "x", "c": 0}""")));
        Assert.Equal((HttpStatusCode.BadRequest, "instances[0].b"), (wrong.Status, wrong.Field));

        // Refused at import, naming what is wrong; nothing is registered.
        var truncated = await Assert.ThrowsAsync<StratusApiException>(() => _client.Models.ImportAsync("broken-net", new MemoryStream(onnx[..100]), "broken.onnx"));
        Assert.Equal((HttpStatusCode.BadRequest, "model"), (truncated.Status, truncated.Field));
        Assert.Contains("not an ONNX model", truncated.Detail);
        var mismatch = await Assert.ThrowsAsync<StratusApiException>(() =>
            _client.Models.ImportAsync("broken-net", new MemoryStream(onnx), "risk.onnx", new OnnxSignature(Inputs: [new OnnxInput("x", ["a", "b"])])));
        Assert.Equal("signature.inputs[0].columns", mismatch.Field);
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<StratusApiException>(() => _client.Models.GetAsync("broken-net"))).Status);
        using var http = _server.Http(_server.AdminToken);
        using var notForm = await http.PostAsync("api/v1/models/broken-net/import", new ByteArrayContent(onnx), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, notForm.StatusCode);
        using var badSignature = new MultipartFormDataContent { { new ByteArrayContent(onnx), "model", "risk.onnx" }, { new StringContent("{\"inputs\": 3}"), "signature" } };
        using var refused = await http.PostAsync("api/v1/models/broken-net/import", badSignature, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("\"field\":\"signature\"", await refused.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Should_batch_concurrent_requests_into_few_model_calls_with_the_same_answers_and_fail_only_a_bad_request()
    {
        // A network large enough that scoring takes a while, so that concurrent requests meet in the queue.
        var (onnx, source) = OnnxGraph.Mlp(21, 16, 512, 512, 2);
        await _client.Models.ImportAsync("wide-net", new MemoryStream(onnx), "wide.onnx", new OnnxSignature(Scores: "logits"));
        await _client.Endpoints.DeployAsync("wide", "wide-net");
        var on = await _client.Endpoints.SetBatchingAsync("wide", new EndpointBatching(true, 32, 20));
        Assert.Equal(new EndpointBatching(true, 32, 20), on.Batching);

        var random = new Random(8);
        var rows = Enumerable.Range(0, 64).Select(_ => Enumerable.Range(0, 16).Select(_ => (float)random.NextDouble()).ToArray()).ToList();
        static string Json(float[] x) => "{" + string.Join(", ", x.Select((v, j) => string.Create(CultureInfo.InvariantCulture, $"\"x_{j}\": {v}"))) + "}";
        var answers = Task.WhenAll(rows.Select(x => _client.Endpoints.PredictAsync("wide", Rows(Json(x)))));
        var bad = Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.PredictAsync("wide", Rows(Json(rows[0]), """{"x_0": "?"}""")));
        var predictions = await answers;
        for (var r = 0; r < rows.Count; r++)
        {
            var logits = source(rows[r]);
            Assert.Equal(1 / (1 + Math.Exp(logits[0] - logits[1])), predictions[r].Predictions[0].Probabilities!["1"], 1e-5);
        }
        var refused = await bad;
        Assert.Equal((HttpStatusCode.BadRequest, "instances[1].x_0"), (refused.Status, refused.Field));

        var metrics = await MetricsAsync();
        const string Labels = "{endpoint=\"wide\",model=\"wide-net\",version=\"1\",role=\"live\"}";
        var (batches, batchRows) = (Series(metrics, "stratus_endpoint_batches_total" + Labels), Series(metrics, "stratus_endpoint_batch_rows_total" + Labels));
        Assert.InRange(batchRows, 64, 66);
        Assert.InRange(batches, 1, 63); // fewer model calls than requests

        // One request at a time waits for no one: every call holds one request's rows.
        for (var i = 0; i < 5; i++) await _client.Endpoints.PredictAsync("wide", Rows(Json(rows[i])));
        metrics = await MetricsAsync();
        Assert.Equal(5, Series(metrics, "stratus_endpoint_batch_rows_total" + Labels) - batchRows);
        Assert.Equal(5, Series(metrics, "stratus_endpoint_batches_total" + Labels) - batches);

        // Settings are checked, kept after a restart, and batching turns off.
        Assert.Equal("max_batch_rows", (await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.SetBatchingAsync("wide", new EndpointBatching(true, 1)))).Field);
        Assert.Equal("max_delay_ms", (await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.SetBatchingAsync("wide", new EndpointBatching(true, 8, 5000)))).Field);
        await _server.DisposeAsync();
        _server = await TestServer.StartAsync(dataDir: _dataDir);
        _client = _server.Client();
        Assert.Equal(new EndpointBatching(true, 32, 20), (await _client.Endpoints.GetAsync("wide")).Batching);
        Assert.Single((await _client.Endpoints.PredictAsync("wide", Rows(Json(rows[0])))).Predictions);
        Assert.False((await _client.Endpoints.SetBatchingAsync("wide", new EndpointBatching(false))).Batching.Enabled);
        Assert.Single((await _client.Endpoints.PredictAsync("wide", Rows(Json(rows[1])))).Predictions);
    }

    [Fact]
    public async Task Should_answer_504_past_the_timeout_and_503_to_requests_still_waiting_then_serve_again()
    {
        var (onnx, _) = OnnxGraph.Mlp(4, 16, 1024, 1024, 2);
        await _client.Models.ImportAsync("slow-net", new MemoryStream(onnx), "slow.onnx", new OnnxSignature(Scores: "logits"));
        await _client.Endpoints.DeployAsync("slow", "slow-net");
        Assert.Equal(new EndpointLimits(1, 5, 50), (await _client.Endpoints.SetLimitsAsync("slow", new EndpointLimits(1, 5, 50))).Limits);

        // 10,000 rows through a million weights take far longer than 50 ms; the call goes on holding the endpoint's
        // one turn, so the next request waits for it in vain.
        var row = "{" + string.Join(", ", Enumerable.Range(0, 16).Select(j => $"\"x_{j}\": 0.5")) + "}";
        var timedOut = await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.PredictAsync("slow", Rows([.. Enumerable.Repeat(row, 10_000)])));
        Assert.Equal(HttpStatusCode.GatewayTimeout, timedOut.Status);
        Assert.Contains("did not answer within its timeout of 50 ms", timedOut.Detail);
        var waited = await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.PredictAsync("slow", Rows(row)));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, waited.Status);
        Assert.Contains("no turn free within its timeout", waited.Detail);

        // The abandoned call keeps its turn until it ends; then the endpoint answers again. The timeout counts as an error of the version.
        // (On a machine busy with other work one row can itself take over 50 ms: a 504 too, counted as an error.)
        PredictResponse? answer = null;
        var lateRows = 0;
        for (var attempt = 0; answer is null && attempt < 100; attempt++)
        {
            try
            {
                answer = await _client.Endpoints.PredictAsync("slow", Rows(row));
            }
            catch (StratusApiException ex) when (ex.Status is HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout)
            {
                if (ex.Status == HttpStatusCode.GatewayTimeout) lateRows++;
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }
        }
        Assert.Single(answer!.Predictions);
        Assert.Equal(1 + lateRows, Series(await MetricsAsync(), "stratus_endpoint_errors_total{endpoint=\"slow\",model=\"slow-net\",version=\"1\",role=\"live\"}"));
        Assert.Equal("timeout_ms", (await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.SetLimitsAsync("slow", new EndpointLimits(1, 5, 0)))).Field);
        Assert.Null((await _client.Endpoints.SetLimitsAsync("slow", new EndpointLimits(1, 5))).Limits.TimeoutMs);
    }

    [Fact]
    public async Task Should_capture_the_sampled_share_of_requests_off_the_request_path_in_files_duckdb_reads()
    {
        var (onnx, _) = OnnxGraph.Mlp(6, 2, 4, 2);
        await _client.Models.ImportAsync("tiny-net", new MemoryStream(onnx), "tiny.onnx");
        await _client.Endpoints.DeployAsync("watched", "tiny-net");
        Assert.Equal(1.0, (await _client.Endpoints.SetCaptureAsync("watched", 1)).Capture.SampleRate);

        var answers = new List<PredictResponse>();
        for (var i = 0; i < 30; i++)
            answers.Add(await _client.Endpoints.PredictAsync("watched", Rows(string.Create(CultureInfo.InvariantCulture, $$"""{"x_0": {{i}}, "x_1": 0.5}"""), """{"x_0": -1, "x_1": 2}""")));
        IReadOnlyList<CapturedRow> captured = [];
        for (var attempt = 0; captured.Count < 60 && attempt < 50; attempt++)
        {
            await Task.Delay(200, TestContext.Current.CancellationToken);
            captured = await _client.Endpoints.CapturesAsync("watched", 1000);
        }
        Assert.Equal(60, captured.Count);
        var latest = captured[0];
        Assert.Equal((answers[^1].RequestId, 1), (latest.RequestId, latest.Row));
        Assert.Equal(answers[^1].Predictions[1].Probabilities!["1"], latest.Prediction.Probabilities!["1"], 1e-12);
        Assert.Equal(-1, latest.Inputs["x_0"].GetDouble());
        Assert.Equal(new ModelVersionRef("tiny-net", 1), latest.Model);

        // Every row is in a capture file of the store, which the database lists for monitoring on any node.
        Assert.Equal(60, await TestDatabase.CapturedRowsAsync(_dataDir, "watched"));
        Assert.Equal(60, Series(await MetricsAsync(), "stratus_capture_rows_total"));

        // A share: about that share of requests, statistically (binomial, 5 sigma); settings checked.
        await _client.Endpoints.SetCaptureAsync("watched", 0.25);
        // Room for the whole burst: this is about sampling, not overload (a busy machine once answered 429).
        await _client.Endpoints.SetLimitsAsync("watched", new EndpointLimits(8, 1000));
        await Task.WhenAll(Enumerable.Range(0, 400).Select(_ => _client.Endpoints.PredictAsync("watched", Rows("""{"x_0": 1, "x_1": 1}"""))));
        await Task.Delay(1500, TestContext.Current.CancellationToken);
        var sampled = Series(await MetricsAsync(), "stratus_capture_rows_total") - 60;
        Assert.InRange(sampled, 100 - (5 * Math.Sqrt(400 * 0.25 * 0.75)), 100 + (5 * Math.Sqrt(400 * 0.25 * 0.75)));
        Assert.Equal("sample_rate", (await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.SetCaptureAsync("watched", 1.5))).Field);

        // Deleting the endpoint deletes what it captured.
        await _client.Endpoints.DeleteAsync("watched");
        Assert.Equal(0, await TestDatabase.CapturedRowsAsync(_dataDir, "watched"));
    }

    private async Task<string> MetricsAsync()
    {
        using var anonymous = _server.Http();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/metrics", TestContext.Current.CancellationToken)).StatusCode);
        using var http = _server.Http(_server.AdminToken);
        using var response = await http.GetAsync("/metrics", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.ToString());
        return await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
    }

    private static long Series(string metrics, string series)
    {
        var line = metrics.Split('\n').SingleOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Should_split_traffic_between_versions_in_proportion_count_each_and_keep_the_split_after_a_restart()
    {
        var v1 = await TrainAsync("ep-split", 4);
        var v2 = await TrainAsync("ep-split", 5);
        await _client.Endpoints.DeployAsync("split", $"ep-split:{v1.Version}");
        var info = await _client.Endpoints.SetTrafficAsync("split", new TrafficRequest([new($"ep-split:{v1.Version}", 80), new($"ep-split:{v2.Version}", 20)]));
        Assert.Equal([(v1, 80), (v2, 20)], info.Traffic.Select(t => (t.Model, t.Weight)));
        Assert.Equal(v1, info.Model);
        Assert.Null(info.Shadow);

        const int requests = 1000;
        var served = new List<int>();
        for (var i = 0; i < requests; i++)
            served.Add((await _client.Endpoints.PredictAsync("split", Rows("""{"amount": 50, "category": "grocery"}"""))).Model.Version);
        // Binomial(1000, 0.2): 200 +- 12.6 per standard deviation; five of them make a false alarm a one-in-a-million event.
        var second = served.Count(v => v == v2.Version);
        Assert.InRange(second, 200 - 63, 200 + 63);
        Assert.Equal(requests - second, served.Count(v => v == v1.Version));

        // Every answer is counted under the version that gave it; a refused request is counted apart.
        await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.PredictAsync("split", Rows("""{"category": "grocery"}""")));
        var metrics = await MetricsAsync();
        Assert.Equal(second, Series(metrics, $"stratus_endpoint_requests_total{{endpoint=\"split\",model=\"ep-split\",version=\"{v2.Version}\",role=\"live\"}}")
            - Series(metrics, $"stratus_endpoint_rejected_total{{endpoint=\"split\",model=\"ep-split\",version=\"{v2.Version}\",role=\"live\"}}"));
        var first = $"endpoint=\"split\",model=\"ep-split\",version=\"{v1.Version}\",role=\"live\"";
        Assert.Equal(requests - second, Series(metrics, $"stratus_endpoint_rows_total{{{first}}}"));
        Assert.Equal(Series(metrics, $"stratus_endpoint_requests_total{{{first}}}"), Series(metrics, $"stratus_endpoint_request_duration_seconds_bucket{{{first},le=\"+Inf\"}}"));
        Assert.Equal(0, Series(metrics, $"stratus_endpoint_errors_total{{{first}}}"));
        Assert.True(Series(metrics, "stratus_models_loaded") >= 2);

        await _server.DisposeAsync();
        _server = await TestServer.StartAsync(dataDir: _dataDir);
        _client = _server.Client();
        Assert.Equal([(v1, 80), (v2, 20)], (await _client.Endpoints.GetAsync("split")).Traffic.Select(t => (t.Model, t.Weight)));
        var after = new HashSet<int>();
        for (var i = 0; i < 60; i++) after.Add((await _client.Endpoints.PredictAsync("split", Rows("""{"amount": 50, "category": "grocery"}"""))).Model.Version);
        Assert.Equal([v1.Version, v2.Version], after.Order());

        // Deploying one version gives it all the traffic again.
        var single = await _client.Endpoints.DeployAsync("split", $"ep-split:{v2.Version}");
        Assert.Equal((v2, 100), Assert.Single(single.Traffic) is var t ? (t.Model, t.Weight) : default);
    }

    [Fact]
    public async Task Should_settle_changes_made_to_one_endpoint_at_once_without_an_error_and_never_apply_a_stale_one()
    {
        var v1 = await TrainAsync("ep-race", 7);
        var v2 = await TrainAsync("ep-race", 8);
        await _client.Endpoints.DeployAsync("race", $"ep-race:{v1.Version}");

        // Deploys, splits and settings from many clients at once, as several servers and a rollout make them: each
        // lands whole (retried on top of the one that won), none fails.
        var changes = Enumerable.Range(0, 12).Select(i => (i % 3) switch
        {
            0 => _client.Endpoints.DeployAsync("race", $"ep-race:{(i % 2 == 0 ? v1 : v2).Version}"),
            1 => _client.Endpoints.SetTrafficAsync("race", new TrafficRequest([new($"ep-race:{v1.Version}", 50), new($"ep-race:{v2.Version}", 50)])),
            _ => _client.Endpoints.SetLimitsAsync("race", new EndpointLimits(8 + i, 100)),
        }).ToList();
        await Task.WhenAll(changes);
        var settled = await _client.Endpoints.GetAsync("race");
        var traffic = settled.Traffic.Select(t => (t.Model, t.Weight)).ToList();
        Assert.True(traffic.SequenceEqual([(v1, 100)]) || traffic.SequenceEqual([(v2, 100)]) || traffic.ToHashSet().SetEquals([(v1, 50), (v2, 50)]),
            $"the endpoint's traffic is {string.Join(", ", traffic)}, which no request asked for");

        // A change conditioned on a state that has moved on (a rollout's step judged before a deploy) is refused whole.
        var judged = settled.UpdatedAt;
        await _client.Endpoints.DeployAsync("race", $"ep-race:{v2.Version}");
        await using var scope = _server.Services.CreateAsyncScope();
        var endpoints = scope.ServiceProvider.GetRequiredService<EndpointService>();
        var stale = await Assert.ThrowsAsync<ProblemException>(() => endpoints.SetTrafficAsync("race",
            new TrafficRequest([new($"ep-race:{v1.Version}", 70), new($"ep-race:{v2.Version}", 30)]), TestContext.Current.CancellationToken, unchangedSince: judged));
        Assert.Equal(409, stale.Status);
        Assert.Equal((v2, 100), Assert.Single((await _client.Endpoints.GetAsync("race")).Traffic) is var t ? (t.Model, t.Weight) : default);
        Assert.Equal(v2, (await _client.Endpoints.PredictAsync("race", Rows("""{"amount": 50, "category": "grocery"}"""))).Model);
    }

    [Fact]
    public async Task Should_refuse_a_bad_traffic_split_naming_the_field_and_keep_the_old_one()
    {
        var v1 = await TrainAsync("ep-bad-split", 6);
        await _client.Endpoints.DeployAsync("bad-split", $"ep-bad-split:{v1.Version}");

        async Task<StratusApiException> Refused(TrafficRequest request) =>
            await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.SetTrafficAsync("bad-split", request));
        var sum = await Refused(new([new("ep-bad-split:1", 90), new("ep-bad-split:1", 20)]));
        Assert.Equal((HttpStatusCode.BadRequest, "versions"), (sum.Status, sum.Field));
        Assert.Contains("add up to 110", sum.Detail);
        Assert.Equal("versions[1].weight", (await Refused(new([new("ep-bad-split:1", 100), new("ep-bad-split:1", 0)]))).Field);
        var unknown = await Refused(new([new("ep-bad-split:1", 50), new("nowhere:3", 50)]));
        Assert.Equal((HttpStatusCode.BadRequest, "versions[1].model"), (unknown.Status, unknown.Field));
        Assert.Equal("versions[1].model", (await Refused(new([new("ep-bad-split:1", 50), new("ep-bad-split@champion", 50)]))).Field);
        Assert.Contains("named twice", (await Refused(new([new("ep-bad-split:1", 50), new("ep-bad-split", 50)]))).Detail);
        Assert.Equal("shadow", (await Refused(new([new("ep-bad-split:1", 100)], "ep-bad-split:1"))).Field);
        Assert.Equal("versions", (await Refused(new([]))).Field);

        var kept = await _client.Endpoints.GetAsync("bad-split");
        Assert.Equal((v1, 100), Assert.Single(kept.Traffic) is var t ? (t.Model, t.Weight) : default);
        Assert.Equal(v1, (await _client.Endpoints.PredictAsync("bad-split", Rows("""{"amount": 50, "category": "grocery"}"""))).Model);
    }

    [Fact]
    public async Task Should_score_a_copy_of_every_request_with_the_shadow_record_it_and_never_return_it()
    {
        var live = await TrainAsync("ep-shadowed", 7);
        var shadow = await TrainAsync("ep-shadowed", 8);
        var info = await _client.Endpoints.SetTrafficAsync("shadowed", new TrafficRequest([new($"ep-shadowed:{live.Version}", 100)], $"ep-shadowed:{shadow.Version}"));
        Assert.Equal(shadow, info.Shadow!.Model);

        for (var i = 0; i < 20; i++)
        {
            var answer = await _client.Endpoints.PredictAsync("shadowed", Rows("""{"amount": 420, "category": "online"}""", """{"amount": 30, "category": "grocery"}"""));
            Assert.Equal(live, answer.Model);
        }
        var records = await WaitForShadowAsync("shadowed", 20);
        Assert.All(records, r => Assert.Equal((live, shadow, 2, 0, (string?)null), (r.Live, r.Shadow, r.Rows, r.Disagreements, r.Error)));
        var metrics = await MetricsAsync();
        Assert.Equal(20, Series(metrics, $"stratus_endpoint_requests_total{{endpoint=\"shadowed\",model=\"ep-shadowed\",version=\"{shadow.Version}\",role=\"shadow\"}}"));

        // A shadow that fails on every request (it was trained on other columns) costs the live answers nothing.
        var other = await TrainAsync("ep-other", 9, amount: "total");
        await _client.Endpoints.SetTrafficAsync("shadowed", new TrafficRequest([new($"ep-shadowed:{live.Version}", 100)], $"ep-other:{other.Version}"));
        for (var i = 0; i < 5; i++)
            Assert.Equal(live, (await _client.Endpoints.PredictAsync("shadowed", Rows("""{"amount": 420, "category": "online"}"""))).Model);
        var failed = (await WaitForShadowAsync("shadowed", 25)).Where(r => r.Shadow == other).ToList();
        Assert.Equal(5, failed.Count);
        Assert.All(failed, r => Assert.Contains("total", r.Error));

        // Without a shadow, nothing more is scored beside the live version.
        await _client.Endpoints.DeployAsync("shadowed", $"ep-shadowed:{live.Version}");
        await _client.Endpoints.PredictAsync("shadowed", Rows("""{"amount": 420, "category": "online"}"""));
        Assert.Empty(await _client.Endpoints.ShadowAsync("shadowed"));
    }

    private async Task<IReadOnlyList<ShadowRecord>> WaitForShadowAsync(string endpoint, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var records = await _client.Endpoints.ShadowAsync(endpoint);
            if (records.Count >= count || DateTime.UtcNow > deadline) return records;
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Calls the endpoint (refusals included: a failing canary refuses) until the rollout is done, or a minute passed.</summary>
    private async Task<(RolloutInfo Rollout, SortedSet<int> Weights)> TrafficUntilDoneAsync(string endpoint)
    {
        var weights = new SortedSet<int>();
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (true)
        {
            for (var i = 0; i < 20; i++)
            {
                try
                {
                    await _client.Endpoints.PredictAsync(endpoint, Rows("""{"amount": 50, "category": "grocery"}"""));
                }
                catch (StratusApiException)
                {
                }
            }
            var rollout = await _client.Endpoints.GetRolloutAsync(endpoint);
            weights.Add(rollout.Weight);
            if (rollout.Status != "running" || DateTime.UtcNow > deadline) return (rollout, weights);
        }
    }

    [Fact]
    public async Task Should_roll_a_healthy_version_out_step_by_step_until_it_takes_all_the_traffic()
    {
        var v1 = await TrainAsync("ep-roll", 10);
        var v2 = await TrainAsync("ep-roll", 11);
        await _client.Endpoints.DeployAsync("roll", $"ep-roll:{v1.Version}");

        var started = await _client.Endpoints.RolloutAsync("roll", new RolloutRequest($"ep-roll:{v2.Version}", Canary: 10, Step: 45, IntervalSeconds: 1, MinRequests: 5));
        Assert.Equal(("running", 10, v1, v2), (started.Status, started.Weight, started.From, started.To));
        Assert.Equal([(v1, 90), (v2, 10)], (await _client.Endpoints.GetAsync("roll")).Traffic.Select(t => (t.Model, t.Weight)));
        var twice = await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.RolloutAsync("roll", new RolloutRequest($"ep-roll:{v2.Version}")));
        Assert.Equal(HttpStatusCode.Conflict, twice.Status);

        var (done, weights) = await TrafficUntilDoneAsync("roll");
        Assert.Equal(("completed", 100), (done.Status, done.Weight));
        Assert.Contains(55, weights); // 10 -> 55 -> 100
        var after = await _client.Endpoints.GetAsync("roll");
        Assert.Equal((v2, 100), Assert.Single(after.Traffic) is var t ? (t.Model, t.Weight) : default);
    }

    [Fact]
    public async Task Should_roll_back_a_version_that_fails_requests_by_itself_and_record_the_evidence()
    {
        var v1 = await TrainAsync("ep-risky", 12);
        // Trained on another column: it refuses every request the old version answers.
        var broken = await TrainAsync("ep-risky", 13, amount: "total");
        await _client.Endpoints.DeployAsync("risky", $"ep-risky:{v1.Version}");

        await _client.Endpoints.RolloutAsync("risky", new RolloutRequest($"ep-risky:{broken.Version}", Canary: 20, Step: 20, IntervalSeconds: 1, MinRequests: 5));
        var (done, _) = await TrafficUntilDoneAsync("risky");
        Assert.Equal(("rolled_back", 0), (done.Status, done.Weight));
        Assert.Contains($"ep-risky:{broken.Version} failed", done.Reason);
        Assert.Contains("(100.0%) against 0.0%", done.Reason);
        var after = await _client.Endpoints.GetAsync("risky");
        Assert.Equal((v1, 100), Assert.Single(after.Traffic) is var t ? (t.Model, t.Weight) : default);
        var audit = await _client.AuditAsync(actor: "stratus:rollout");
        Assert.Contains(audit.Items, a => a.Path == "/api/v1/endpoints/risky/rollout" && a.Detail!.StartsWith("rolled back: ", StringComparison.Ordinal));

        // Settings out of range name their field; an unknown version is refused before any traffic moves.
        async Task<StratusApiException> Refused(RolloutRequest request) =>
            await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.RolloutAsync("risky", request));
        Assert.Equal("canary", (await Refused(new($"ep-risky:{broken.Version}", Canary: 100))).Field);
        Assert.Equal("interval_seconds", (await Refused(new($"ep-risky:{broken.Version}", IntervalSeconds: 0))).Field);
        Assert.Equal("max_error_rate", (await Refused(new($"ep-risky:{broken.Version}", MaxErrorRate: 2))).Field);
        Assert.Equal("model", (await Refused(new("ep-risky:99"))).Field);
        Assert.Equal("model", (await Refused(new($"ep-risky:{v1.Version}"))).Field); // the version it already serves

        // A rollout can be aborted: the old version takes all the traffic back.
        await _client.Endpoints.RolloutAsync("risky", new RolloutRequest($"ep-risky:{broken.Version}", IntervalSeconds: 3600));
        var aborted = await _client.Endpoints.AbortRolloutAsync("risky");
        Assert.Equal(("aborted", 0), (aborted.Status, aborted.Weight));
        Assert.Equal((v1, 100), Assert.Single((await _client.Endpoints.GetAsync("risky")).Traffic) is var u ? (u.Model, u.Weight) : default);
    }

    [Fact]
    public async Task Should_answer_429_with_retry_after_when_an_endpoint_is_full_and_keep_serving_what_it_admits()
    {
        await TrainAsync("ep-busy", 14);
        await _client.Endpoints.DeployAsync("busy", "ep-busy");
        Assert.Equal(new EndpointLimits(1, 1), (await _client.Endpoints.SetLimitsAsync("busy", new EndpointLimits(1, 1))).Limits);

        // Large batches arriving together: one is scored, one waits, the others are refused at once.
        var body = "{\"instances\": [" + string.Join(",", Enumerable.Repeat("""{"amount": 50, "category": "grocery"}""", 10_000)) + "]}";
        using var http = _server.Http(_server.AdminToken);
        var responses = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ =>
            http.PostAsync("api/v1/endpoints/busy/predict", new StringContent(body, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken)));
        var refused = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(refused);
        Assert.True(responses.Count(r => r.StatusCode == HttpStatusCode.OK) >= 2);
        Assert.Equal(32, responses.Count(r => r.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests));
        Assert.Equal(TimeSpan.FromSeconds(1), refused[0].Headers.RetryAfter?.Delta);
        Assert.Contains("is scoring 1 requests with 1 waiting", await refused[0].Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(refused.Count, Series(await MetricsAsync(), "stratus_endpoint_throttled_total{endpoint=\"busy\"}"));

        // The limits hold after a restart; out of range, they are refused naming the field.
        await _server.DisposeAsync();
        _server = await TestServer.StartAsync(dataDir: _dataDir);
        _client = _server.Client();
        Assert.Equal(new EndpointLimits(1, 1), (await _client.Endpoints.GetAsync("busy")).Limits);
        Assert.Single((await _client.Endpoints.PredictAsync("busy", Rows("""{"amount": 50, "category": "grocery"}"""))).Predictions);
        var zero = await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.SetLimitsAsync("busy", new EndpointLimits(0, 1)));
        Assert.Equal((HttpStatusCode.BadRequest, "max_concurrency"), (zero.Status, zero.Field));
        Assert.Equal("max_queue", (await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.SetLimitsAsync("busy", new EndpointLimits(4, -1)))).Field);
    }

    [Fact]
    public async Task Should_unload_the_least_recently_used_model_under_the_memory_cap_and_load_it_again_on_its_next_request()
    {
        var a = await TrainAsync("ep-lru-a", 15);
        var b = await TrainAsync("ep-lru-b", 16);
        var size = Math.Max((await _client.Models.ResolveAsync("ep-lru-a")).SizeBytes, (await _client.Models.ResolveAsync("ep-lru-b")).SizeBytes);
        // Room for one package and a half: serving the second unloads the first.
        await _server.DisposeAsync();
        _server = await TestServer.StartAsync(o => o.Serving.ModelCacheBytes = size * 3 / 2, _dataDir);
        _client = _server.Client();
        var row = Rows("""{"amount": 420, "category": "online"}""");

        await _client.Endpoints.DeployAsync("lru-a", $"ep-lru-a:{a.Version}");
        await _client.Endpoints.DeployAsync("lru-b", $"ep-lru-b:{b.Version}");
        var metrics = await MetricsAsync();
        Assert.Equal((2, 1, 1), (Series(metrics, "stratus_model_loads_total"), Series(metrics, "stratus_model_unloads_total"), Series(metrics, "stratus_models_loaded")));
        Assert.InRange(Series(metrics, "stratus_models_loaded_bytes"), 1, size * 3 / 2);

        // The unloaded one answers as before, loaded again (a cold start, counted), and the other makes room.
        Assert.Equal(["1"], (await _client.Endpoints.PredictAsync("lru-a", row)).Predictions.Select(p => p.Label));
        Assert.Equal(["1"], (await _client.Endpoints.PredictAsync("lru-b", row)).Predictions.Select(p => p.Label));
        metrics = await MetricsAsync();
        Assert.Equal((4, 3, 1), (Series(metrics, "stratus_model_loads_total"), Series(metrics, "stratus_model_unloads_total"), Series(metrics, "stratus_models_loaded")));
        Assert.True(double.Parse(metrics.Split('\n').Single(l => l.StartsWith("stratus_model_load_seconds_total ", StringComparison.Ordinal)).Split(' ')[1],
            CultureInfo.InvariantCulture) > 0);

        // A model in use stays: calling b again loads nothing.
        await _client.Endpoints.PredictAsync("lru-b", row);
        Assert.Equal(4, Series(await MetricsAsync(), "stratus_model_loads_total"));
    }

    /// <summary>Orleans activations of endpoint replicas in the silo.</summary>
    private async Task<int> ReplicaActivationsAsync()
    {
        var management = _server.Services.GetRequiredService<Orleans.IGrainFactory>().GetGrain<Orleans.Runtime.IManagementGrain>(0);
        var stats = await management.GetSimpleGrainStatistics();
        return stats.Where(s => s.GrainType.Contains("Replica", StringComparison.Ordinal)).Sum(s => s.ActivationCount);
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var value = await probe();
            if (done(value)) return value;
            Assert.True(DateTime.UtcNow < deadline, $"{what} did not happen in 20 s; last seen: {value}");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task Should_scale_an_idle_endpoint_to_zero_free_its_model_and_wake_on_the_next_request_with_the_same_answer()
    {
        await TrainAsync("ep-sleepy", 17);
        await _client.Endpoints.DeployAsync("sleepy", "ep-sleepy");
        await _client.Endpoints.DeployAsync("steady", "ep-sleepy");
        var row = Rows("""{"amount": 420, "category": "online"}""");
        var before = await _client.Endpoints.PredictAsync("sleepy", row);
        Assert.Equal(new EndpointScaling(1, Environment.ProcessorCount, 300), (await _client.Endpoints.GetAsync("sleepy")).Scaling);
        // On a busy machine the first request can overtake the first replica's start after deploying, and waits for it: a cold start too.
        var coldBefore = Series(await MetricsAsync(), "stratus_endpoint_cold_starts_total{endpoint=\"sleepy\"}");

        // The minimum is checked; "steady" keeps one replica however idle, "sleepy" may stop its last.
        Assert.Equal("max_replicas", (await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.SetScalingAsync("sleepy", 3, 2))).Field);
        Assert.Equal("idle_seconds", (await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.SetScalingAsync("sleepy", 0, 2, 0))).Field);
        Assert.Equal("min_replicas", (await Assert.ThrowsAsync<StratusApiException>(() => _client.Endpoints.SetScalingAsync("sleepy", -1, 2))).Field);
        Assert.Equal(new EndpointScaling(1, 2, 1), (await _client.Endpoints.SetScalingAsync("steady", 1, 2, 1)).Scaling);
        var scaled = await _client.Endpoints.SetScalingAsync("sleepy", 0, 2, 1);
        Assert.Equal((new EndpointScaling(0, 2, 1), 1), (scaled.Scaling, scaled.Replicas));
        Assert.Equal(2, await ReplicaActivationsAsync());

        // Idle for a second: sleepy's replica stops (an Orleans activation less) and its model leaves memory; steady's stays.
        var metrics = await EventuallyAsync(MetricsAsync, m => Series(m, "stratus_endpoint_replicas{endpoint=\"sleepy\"}") == 0, "scaling sleepy to zero");
        Assert.Equal(1, Series(metrics, "stratus_endpoint_replicas{endpoint=\"steady\"}"));
        Assert.Equal(1, await ReplicaActivationsAsync());
        Assert.False(_server.Services.GetRequiredService<Serving.ModelCache>().TryGet("sleepy", out _));
        Assert.True(_server.Services.GetRequiredService<Serving.ModelCache>().TryGet("steady", out _));
        Assert.Equal(0, (await _client.Endpoints.GetAsync("sleepy")).Replicas);

        // Both endpoints serve the same package, so it stays while steady holds it; once steady goes too, it is freed.
        Assert.Equal(1, Series(metrics, "stratus_models_loaded"));
        await _client.Endpoints.SetScalingAsync("steady", 0, 2, 1);
        metrics = await EventuallyAsync(MetricsAsync, m => Series(m, "stratus_models_loaded") == 0, "unloading the model of two idle endpoints");
        Assert.Equal((0, 0, 1), (Series(metrics, "stratus_endpoint_replicas{endpoint=\"steady\"}"), await ReplicaActivationsAsync(), Series(metrics, "stratus_model_unloads_total")));

        // The next request wakes it: the same answer, a cold start counted and timed, one replica again.
        var after = await _client.Endpoints.PredictAsync("sleepy", row);
        Assert.Equal(before.Predictions.Select(p => p.Probabilities), after.Predictions.Select(p => p.Probabilities));
        metrics = await MetricsAsync();
        Assert.Equal((coldBefore + 1, 1, 2), (Series(metrics, "stratus_endpoint_cold_starts_total{endpoint=\"sleepy\"}"), Series(metrics, "stratus_endpoint_replicas{endpoint=\"sleepy\"}"),
            Series(metrics, "stratus_model_loads_total")));
        Assert.True(double.Parse(metrics.Split('\n').Single(l => l.StartsWith("stratus_endpoint_cold_start_seconds_total{endpoint=\"sleepy\"} ", StringComparison.Ordinal)).Split(' ')[1],
            CultureInfo.InvariantCulture) > 0);
        Assert.Equal(1, await ReplicaActivationsAsync());

        // The settings outlive a restart.
        await _server.DisposeAsync();
        _server = await TestServer.StartAsync(dataDir: _dataDir);
        _client = _server.Client();
        Assert.Equal(new EndpointScaling(0, 2, 1), (await _client.Endpoints.GetAsync("sleepy")).Scaling);
        Assert.Equal(after.Predictions.Select(p => p.Probabilities), (await _client.Endpoints.PredictAsync("sleepy", row)).Predictions.Select(p => p.Probabilities));
    }

    [Fact]
    public async Task Should_add_replicas_while_requests_pile_up_never_past_the_maximum_and_stop_them_when_idle()
    {
        // A network slow enough (about a millisecond a row) that 24 clients keep several calls in flight.
        var (onnx, _) = OnnxGraph.Mlp(5, 16, 1024, 1024, 2);
        await _client.Models.ImportAsync("deep-net", new MemoryStream(onnx), "deep.onnx", new OnnxSignature(Scores: "logits"));
        await _client.Endpoints.DeployAsync("elastic", "deep-net");
        await _client.Endpoints.SetScalingAsync("elastic", 1, 3, 1);
        var replicas = _server.Services.GetRequiredService<Serving.ReplicaRegistry>();
        await EventuallyAsync(() => Task.FromResult(replicas.CountOf("elastic")), n => n == 1, "the first replica of elastic"); // its activation is asynchronous

        var row = Rows("{" + string.Join(", ", Enumerable.Range(0, 16).Select(j => $"\"x_{j}\": 0.5")) + "}");
        using var load = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var clients = Enumerable.Range(0, 24).Select(_ => Task.Run(async () =>
        {
            var answered = 0;
            while (!load.IsCancellationRequested)
            {
                await _client.Endpoints.PredictAsync("elastic", row);
                answered++;
            }
            return answered;
        })).ToList();
        var peak = 0;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        // Up to the maximum under the load (on a busy machine the queue may take seconds to build), then a second more
        // of load to see it go no further.
        while (watch.Elapsed < TimeSpan.FromSeconds(15) && peak < 3)
        {
            peak = Math.Max(peak, replicas.CountOf("elastic"));
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
        var grown = watch.Elapsed;
        while (watch.Elapsed < grown + TimeSpan.FromSeconds(1))
        {
            peak = Math.Max(peak, replicas.CountOf("elastic"));
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
        await load.CancelAsync();
        var answered = (await Task.WhenAll(clients)).Sum();
        Assert.True(answered > 0);
        Assert.Equal(3, peak); // grew to the maximum, and no further
        Assert.Equal(3, await ReplicaActivationsAsync());

        // Idle again: back to the minimum, one replica at a time.
        await EventuallyAsync(() => Task.FromResult(replicas.CountOf("elastic")), n => n == 1, "scaling elastic back to its minimum");
        Assert.Equal(1, await ReplicaActivationsAsync());
        Assert.Single((await _client.Endpoints.PredictAsync("elastic", row)).Predictions);
    }
}
