using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Stratus.Client;
using Stratus.Testing;

namespace Stratus.Server.Tests;

public sealed class MonitoringTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private StratusClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _client = _server.Client();
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    /// <summary>Transactions: fraud is large and online; hour is uniform and unrelated. <paramref name="shift"/> moves every amount.</summary>
    private static List<Dictionary<string, object>> Transactions(int rows, int seed, double shift = 0)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, rows).Select(_ =>
        {
            var fraud = random.NextDouble() < 0.3;
            return new Dictionary<string, object>
            {
                ["amount"] = Math.Round((fraud ? 400 : 30) + (random.NextDouble() * 40) + shift, 2),
                ["category"] = fraud ? (random.NextDouble() < 0.8 ? "online" : "grocery") : (random.NextDouble() < 0.2 ? "online" : "grocery"),
                ["hour"] = random.Next(24),
                ["fraud"] = fraud ? 1 : 0,
            };
        })];
    }

    /// <summary>Sends the rows 25 to a request; returns each row's request id and index in its request.</summary>
    private async Task<List<(string RequestId, int Row)>> SendAsync(List<Dictionary<string, object>> rows, string? extraColumn = null)
    {
        var sent = new List<(string, int)>();
        foreach (var chunk in rows.Chunk(25))
        {
            var instances = chunk.Select(r =>
            {
                var row = r.Where(kv => kv.Key != "fraud").ToDictionary(kv => kv.Key, kv => JsonSerializer.SerializeToElement(kv.Value));
                if (extraColumn is not null) row[extraColumn] = JsonSerializer.SerializeToElement("x");
                return row;
            }).ToList();
            var response = await _client.Endpoints.PredictAsync("watched", new PredictRequest(instances));
            sent.AddRange(instances.Select((_, i) => (response.RequestId, i)));
        }
        return sent;
    }

    /// <summary>Waits until the capture files hold <paramref name="rows"/> rows: they are written about once a second.</summary>
    private async Task WaitForCaptureAsync(int rows)
    {
        for (var i = 0; i < 200; i++)
        {
            if (await TestDatabase.CapturedRowsAsync(_server.DataDir, "watched") >= rows) return;
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        Assert.Fail($"the capture did not reach {rows} rows");
    }

    /// <summary>Trains watched-model on 600 transactions and serves it as endpoint <c>watched</c>, capturing every request.</summary>
    private async Task<List<Dictionary<string, object>>> DeployAsync()
    {
        var training = Transactions(600, 1);
        var csv = new StringBuilder("amount,category,hour,fraud\n");
        foreach (var r in training) csv.Append(CultureInfo.InvariantCulture, $"{r["amount"]},{r["category"]},{r["hour"]},{r["fraud"]}\n");
        await _client.Datasets.UploadAsync("watched-data", new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString())));
        var job = await _client.Jobs.TrainAsync(new TrainRequest("watched-data", "fraud", Register: "watched-model", Iterations: 20, Folds: 2));
        var done = await _client.Jobs.WaitAsync(job.Id, ct: TestContext.Current.CancellationToken);
        Assert.True(done.Status == JobStatus.Succeeded, done.Error);
        await _client.Endpoints.DeployAsync("watched", "watched-model");
        await _client.Endpoints.SetCaptureAsync("watched", 1);
        return training;
    }

    [Fact]
    public async Task Should_score_categories_the_model_never_saw_and_count_them_as_new_in_monitoring()
    {
        await DeployAsync();
        // Production brings a merchant category training never had: every request with it is answered, and captured.
        var start = DateTimeOffset.UtcNow;
        var rows = Transactions(200, 4);
        foreach (var row in rows.Where((_, i) => i % 4 == 0)) row["category"] = "crypto";
        await SendAsync(rows);
        await WaitForCaptureAsync(200);

        var report = await _client.Monitoring.CheckDriftAsync("watched", new DriftCheckRequest(From: start, To: DateTimeOffset.UtcNow));

        Assert.Equal(200L, report.Rows);
        Assert.Equal(0.25, report.Features.Single(f => f.Column == "category").NewCategoryRate!.Value, 6);
    }

    [Fact]
    public async Task Should_keep_a_baseline_and_find_drift_on_the_shifted_column_only_never_on_a_resample()
    {
        var training = await DeployAsync();

        // The baseline: the training data's columns and the validation predictions (out of fold: all 600 rows).
        var baseline = await _client.Monitoring.BaselineAsync("watched-model", 1);
        Assert.Equal(["amount", "category", "hour"], baseline.Features.Keys.Order());
        Assert.Equal((600L, "numeric", 1001), (baseline.Features["amount"].Count, baseline.Features["amount"].Kind, baseline.Features["amount"].Quantiles!.Count));
        Assert.Equal(training.Count(r => (string)r["category"] == "online"), baseline.Features["category"].Counts!["online"]);
        Assert.Equal((600L, "numeric"), (baseline.Prediction!.Count, baseline.Prediction.Kind));
        Assert.Contains("watched-data:1", baseline.Source);
        Assert.True(baseline.Metrics["auc"] > 0.9);

        // A fresh sample of the same distribution, large enough for distances (a 5% test alarms on 5% of samples by design): no column drifts.
        var start = DateTimeOffset.UtcNow;
        await SendAsync(Transactions(1_200, 2));
        await WaitForCaptureAsync(1_200);
        var middle = DateTimeOffset.UtcNow;
        var same = await _client.Monitoring.CheckDriftAsync("watched", new DriftCheckRequest(From: start, To: middle));
        Assert.Equal(("ok", 1_200L, 0), (same.Status, same.Rows, same.Drifted));
        Assert.All(same.Features, f => Assert.Equal(("ok", f.Kind == "numeric" ? "wasserstein" : "jensenshannon"), (f.Status, f.Method)));
        Assert.Equal("ok", same.Prediction!.Status);

        // Amounts 60 higher (a fifth of the training spread) and a column the model does not know: only amount drifts.
        await SendAsync(Transactions(400, 3, shift: 60), extraColumn: "coupon");
        await WaitForCaptureAsync(1_600);
        var shifted = await _client.Monitoring.CheckDriftAsync("watched", new DriftCheckRequest(From: middle, To: DateTimeOffset.UtcNow));
        Assert.Equal(("drift", 400L, 1), (shifted.Status, shifted.Rows, shifted.Drifted));
        var amount = shifted.Features.Single(f => f.Column == "amount");
        Assert.Equal(("drift", "ks"), (amount.Status, amount.Method));
        Assert.True(amount.Score < 1e-6, $"p = {amount.Score}");
        Assert.Equal(["ok", "ok"], shifted.Features.Where(f => f.Column != "amount").Select(f => f.Status));
        Assert.Equal(["coupon"], shifted.UnseenColumns);
        Assert.True(amount.OutOfRangeRate > 0);

        // A rule per column: PSI with its threshold decides instead.
        var ruled = await _client.Monitoring.CheckDriftAsync("watched", new DriftCheckRequest(From: middle, To: DateTimeOffset.UtcNow,
            Rules: new Dictionary<string, DriftRule> { ["amount"] = new("psi", 0.2) }));
        Assert.Equal("psi", ruled.Features.Single(f => f.Column == "amount").Method);
        var badRule = await Assert.ThrowsAsync<StratusApiException>(() => _client.Monitoring.CheckDriftAsync("watched",
            new DriftCheckRequest(Rules: new Dictionary<string, DriftRule> { ["category"] = new("ks", 0.05) })));
        Assert.Equal((HttpStatusCode.BadRequest, "rules.category"), (badRule.Status, badRule.Field));
        Assert.Equal("rules.nope", (await Assert.ThrowsAsync<StratusApiException>(() => _client.Monitoring.CheckDriftAsync("watched",
            new DriftCheckRequest(Rules: new Dictionary<string, DriftRule> { ["nope"] = new("psi", 0.2) })))).Field);

        // The report (times as stored, to the millisecond): amount drifting since the first drifted window, the other columns fine, and its distribution moved right of the baseline's.
        var report = await _client.Monitoring.ReportAsync("watched");
        Assert.Equal(shifted.Id, report.Latest!.Id - 1);
        var amountSeries = report.Features.Single(f => f.Column == "amount");
        Assert.Equal(("drift", DateTimeOffset.FromUnixTimeMilliseconds(shifted.From.ToUnixTimeMilliseconds()), 3), (amountSeries.Status, amountSeries.DriftingSince, amountSeries.Points.Count));
        Assert.Equal(["ok", "drift", "drift"], amountSeries.Points.Select(p => p.Status));
        Assert.All(report.Features.Where(f => f.Column is "hour" or "category"), f => Assert.Equal(("ok", (DateTimeOffset?)null), (f.Status, f.DriftingSince)));
        var plot = report.Distributions.Single(d => d.Column == "amount");
        Assert.Equal(plot.Bins.Count, plot.Edges!.Count - 1);
        Assert.Equal(1, plot.Baseline.Sum(), 3);
        Assert.Equal(1, plot.Current.Sum(), 3);
        static double MeanBin(IReadOnlyList<double> shares) => shares.Select((s, i) => s * i).Sum();
        Assert.True(MeanBin(plot.Current) > MeanBin(plot.Baseline) + 1, $"baseline {MeanBin(plot.Baseline)}, current {MeanBin(plot.Current)}");
        Assert.Contains(report.Distributions, d => d.Column == "prediction");
        Assert.Equal("binary", report.Performance.Task);

        // An empty window is insufficient data, never "no drift".
        var empty = await _client.Monitoring.CheckDriftAsync("watched", new DriftCheckRequest(From: start.AddHours(-2), To: start.AddHours(-1)));
        Assert.Equal(("insufficient_data", 0L), (empty.Status, empty.Rows));
        Assert.All(empty.Features, f => Assert.Equal("insufficient_data", f.Status));

        // The reports are kept as a time series, newest first.
        var history = await _client.Monitoring.DriftHistoryAsync("watched");
        Assert.Equal(["insufficient_data", "drift", "drift", "ok"], history.Select(r => r.Status));
        Assert.Equal(400, history[2].Features.Single(f => f.Column == "amount").Rows);
    }

    [Fact]
    public async Task Should_set_an_imported_models_baseline_from_a_dataset_and_check_its_endpoint_against_it()
    {
        var (onnx, _) = OnnxGraph.Mlp(3, 2, 4, 2);
        await _client.Models.ImportAsync("foreign", new MemoryStream(onnx), "foreign.onnx",
            new OnnxSignature(Target: "churn", Inputs: [new OnnxInput("x", ["tenure", "spend"])], Scores: "logits"));
        await _client.Endpoints.DeployAsync("watched", "foreign");
        await _client.Endpoints.SetCaptureAsync("watched", 1);

        // An imported model brings no training data: drift has nothing to compare with, and says how to give it something.
        var none = await Assert.ThrowsAsync<StratusApiException>(() => _client.Monitoring.CheckDriftAsync("watched"));
        Assert.Equal(HttpStatusCode.Conflict, none.Status);
        Assert.Contains("stratus monitor baseline foreign:1 --dataset NAME", none.Detail);

        var random = new Random(5);
        var csv = new StringBuilder("tenure,spend,churn\n");
        for (var i = 0; i < 500; i++) csv.Append(CultureInfo.InvariantCulture, $"{random.Next(1, 60)},{Math.Round(random.NextDouble() * 100, 2)},{random.Next(2)}\n");
        await _client.Datasets.UploadAsync("customers", new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString())));
        var missing = await Assert.ThrowsAsync<StratusApiException>(() => _client.Monitoring.SetBaselineAsync("foreign", 1, "nowhere"));
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Contains("dataset version 'nowhere'", missing.Detail);
        await _client.Datasets.UploadAsync("other", new MemoryStream("tenure,amount\n1,2\n"u8.ToArray()));
        var wrong = await Assert.ThrowsAsync<StratusApiException>(() => _client.Monitoring.SetBaselineAsync("foreign", 1, "other"));
        Assert.Contains("other:1 has no column 'spend', an input of foreign:1", wrong.Detail);

        var baseline = await _client.Monitoring.SetBaselineAsync("foreign", 1, "customers");
        Assert.Equal(["spend", "tenure"], baseline.Features.Keys.Order());
        Assert.Equal((500L, 500L), (baseline.Rows, baseline.Prediction!.Count));
        Assert.Contains("auc", baseline.Metrics.Keys); // the dataset holds the target: the model's metrics on it
        Assert.Equal(baseline.Source, (await _client.Monitoring.BaselineAsync("foreign", 1)).Source);

        // Requests like the dataset: no drift; much larger spend: spend drifts.
        var start = DateTimeOffset.UtcNow;
        for (var i = 0; i < 8; i++)
        {
            var instances = Enumerable.Range(0, 25).Select(_ => new Dictionary<string, JsonElement>
            {
                ["tenure"] = JsonSerializer.SerializeToElement(random.Next(1, 60)),
                ["spend"] = JsonSerializer.SerializeToElement(Math.Round((random.NextDouble() * 100) + 150, 2)),
            }).ToList();
            await _client.Endpoints.PredictAsync("watched", new PredictRequest(instances));
        }
        await WaitForCaptureAsync(200);
        var report = await _client.Monitoring.CheckDriftAsync("watched", new DriftCheckRequest(From: start, To: DateTimeOffset.UtcNow));
        Assert.Equal(("drift", new ModelVersionRef("foreign", 1)), (report.Status, report.Model));
        Assert.Equal(["spend"], report.Features.Where(f => f.Status == "drift").Select(f => f.Column));
    }

    [Fact]
    public async Task Should_take_labels_for_captured_predictions_refuse_bad_items_one_by_one_and_measure_live_performance()
    {
        await DeployAsync();
        var traffic = Transactions(200, 7);
        var sent = await SendAsync(traffic);
        await WaitForCaptureAsync(200);
        List<FeedbackItem> Labels(Func<int, int> label) =>
            [.. sent.Select((s, i) => new FeedbackItem(s.RequestId, JsonSerializer.SerializeToElement(label(i)), s.Row))];

        // The true labels, with two bad items: a request never captured and a label that is not a class. Those two are
        // refused by name; the 200 others are stored.
        var items = Labels(i => (int)traffic[i]["fraud"]);
        items.Add(new FeedbackItem("no-such-request", JsonSerializer.SerializeToElement(1)));
        items.Add(new FeedbackItem(sent[0].RequestId, JsonSerializer.SerializeToElement("maybe"), sent[0].Row));
        var refused = await Assert.ThrowsAsync<StratusApiException>(() => _client.Monitoring.FeedbackAsync("watched", items));
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Equal(["items[200].request_id", "items[201].label"], refused.Errors.Keys.Order());
        Assert.Contains("2 of 202 labels were refused", refused.Detail);
        Assert.Contains("the model's classes are 0, 1", refused.Errors["items[201].label"]);

        var live = await _client.Monitoring.PerformanceAsync("watched", windowMinutes: 60, buckets: 4);
        Assert.Equal(("binary", 4, 200L), (live.Task, live.Windows.Count, live.Windows.Sum(w => w.Labelled)));
        var window = live.Windows.Single(w => w.Labelled > 0);
        Assert.True(window.Metrics["auc"] > 0.9, $"auc {window.Metrics["auc"]}");
        Assert.True(live.Baseline["auc"] > 0.9);
        Assert.Empty(live.Windows.First(w => w.Labelled == 0).Metrics);

        // Labels sent again replace the earlier ones: flipped, the live accuracy falls as far as it was high.
        Assert.Equal(200, (await _client.Monitoring.FeedbackAsync("watched", Labels(i => 1 - (int)traffic[i]["fraud"]))).Accepted);
        var flipped = (await _client.Monitoring.PerformanceAsync("watched", windowMinutes: 60, buckets: 1)).Windows.Single();
        Assert.Equal(200, flipped.Labelled);
        Assert.Equal(1 - window.Metrics["accuracy"], flipped.Metrics["accuracy"], 1e-9);
        Assert.Equal("items", (await Assert.ThrowsAsync<StratusApiException>(() => _client.Monitoring.FeedbackAsync("watched", []))).Field);
    }
}
