using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Stratus.Client;
using Stratus.Testing;

namespace Stratus.Server.Tests;

public sealed class AutoMlTests(SharedServer shared) : IClassFixture<SharedServer>
{
    private readonly StratusClient _client = shared.Server.Client();

    private static MemoryStream Data(int rows)
    {
        var random = new Random(5);
        var csv = new StringBuilder("a,b,shop,label\n");
        for (var i = 0; i < rows; i++)
        {
            var a = random.NextDouble() * 4 - 2;
            var b = random.NextDouble() * 4 - 2;
            var shop = new[] { "web", "store" }[random.Next(2)];
            csv.Append(CultureInfo.InvariantCulture, $"{a:F3},{b:F3},{shop},{(a * b + (shop == "web" ? 0.5 : 0) + random.NextDouble() * 0.5 > 0.3 ? "pos" : "neg")}\n");
        }
        return new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString()));
    }

    /// <summary>Credit applications like R's modeldata credit_data: numbers with missing values, several categories, a good/bad status.</summary>
    private static MemoryStream Credit(int rows, int seed)
    {
        var random = new Random(seed);
        string[] homes = ["rent", "owner", "parents", "priv", "other", ""];
        string[] jobs = ["fixed", "freelance", "partime", "others", ""];
        var csv = new StringBuilder("Status,Seniority,Home,Time,Age,Marital,Records,Job,Expenses,Income,Assets,Debt,Amount,Price\n");
        for (var i = 0; i < rows; i++)
        {
            var seniority = random.Next(0, 30);
            var records = random.NextDouble() < 0.2 ? "yes" : "no";
            var job = jobs[random.Next(jobs.Length)];
            var income = random.NextDouble() < 0.08 ? "" : (50 + random.Next(300)).ToString(CultureInfo.InvariantCulture);
            var amount = 300 + random.Next(2000);
            var bad = (records == "yes" ? 1.2 : 0) + (job == "partime" ? 0.8 : 0) - seniority / 15.0 + amount / 2000.0 + random.NextDouble() > 1.1;
            csv.Append(CultureInfo.InvariantCulture, $"{(bad ? "bad" : "good")},{seniority},{homes[random.Next(homes.Length)]},{12 * random.Next(1, 6)},{18 + random.Next(50)}," +
                $"{new[] { "married", "single", "widow", "separated", "" }[random.Next(5)]},{records},{job},{35 + random.Next(100)},{income}," +
                $"{(random.NextDouble() < 0.05 ? "" : (random.Next(10) * 1000).ToString(CultureInfo.InvariantCulture))},{random.Next(3) * 500},{amount},{amount + random.Next(1500)}\n");
        }
        return new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString()));
    }

    [Fact]
    public async Task Should_survive_repeated_parallel_searches_on_mixed_data_with_missing_values()
    {
        // Before LightGBM's thread count was fixed per process, searches like these segfaulted the server in
        // lib_lightgbm (2 of 7 eight-second searches with 2 trials side by side, on the 3,563 rows of credit_data;
        // the first twenty-second search on each of two tries), taking the test host down with them.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            await _client.Datasets.UploadAsync($"credit-{attempt}", Credit(3500, attempt));
            var job = await _client.Jobs.AutoMlAsync(new AutoMlRequest($"credit-{attempt}", "Status", 8, Seed: attempt, Parallel: 2));
            var done = await _client.Jobs.WaitAsync(job.Id, ct: TestContext.Current.CancellationToken);
            Assert.True(done.Status == JobStatus.Succeeded, $"search {attempt}: {done.Status}: {done.Error}");
            Assert.True(done.Result!.Trials >= 1, $"search {attempt}: no trial"); // how many fit in 8 s depends on the machine's load
        }
    }

    [Fact]
    public async Task Should_search_track_every_trial_and_register_the_best_model()
    {
        await _client.Datasets.UploadAsync("automl-data", Data(400));

        var job = await _client.Jobs.AutoMlAsync(new AutoMlRequest("automl-data", "label", 8, Register: "automl-model"));
        Assert.Equal("automl", job.Kind);
        var lines = new List<string>();
        var done = await _client.Jobs.WaitAsync(job.Id, l => lines.Add(l.Line), ct: TestContext.Current.CancellationToken);

        Assert.True(done.Status == JobStatus.Succeeded, $"{done.Status}: {done.Error}\n{string.Join('\n', lines)}");
        var result = done.Result!;
        Assert.Equal("auc", result.Metric);
        Assert.NotNull(result.Trials);
        Assert.True(result.Trials >= 4, $"{result.Trials} trials");
        Assert.Equal(new ModelVersionRef("automl-model", 1), result.Model);
        Assert.Contains(lines, l => l.StartsWith("trial 1 ok: lightgbm auc", StringComparison.Ordinal));
        var leaderboard = result.Leaderboard!;
        Assert.Equal(leaderboard.OrderByDescending(t => t.Score), leaderboard);
        if (result.Trainer == "ensemble")
        {
            Assert.True(result.Metrics["auc"] > leaderboard[0].Score, "an ensemble is kept only when it beats the best trial");
            Assert.Contains("trial", (await _client.Runs.GetAsync(result.RunId)).Tags["ensemble"]);
        }
        else
        {
            Assert.Equal(leaderboard[0].Score!.Value, result.Metrics["auc"], 9);
            Assert.Equal(leaderboard[0].Trainer, result.Trainer);
        }

        // The search's run and one child run per trial, each with its parameters and score.
        var parent = await _client.Runs.GetAsync(result.RunId);
        Assert.Equal(RunStatus.Finished, parent.Status);
        Assert.Equal(result.Trials.Value.ToString(CultureInfo.InvariantCulture), parent.Tags["trials"]);
        var child = await _client.Runs.GetAsync(leaderboard[0].RunId!);
        Assert.Equal(result.RunId, child.Tags["parent_run_id"]);
        Assert.Equal(leaderboard[0].Trainer, child.Params["trainer"]);
        Assert.Equal(leaderboard[0].Score!.Value, child.LatestMetrics["auc"], 9);
        var artifacts = await _client.Runs.ListArtifactsAsync(result.RunId);
        Assert.Contains(artifacts, a => a.Path == "leaderboard.json");
        Assert.Contains(artifacts, a => a.Path == "model/package.zip");

        // The registered model serves like any other.
        await _client.Endpoints.DeployAsync("automl-live", "automl-model:1");
        var answer = await _client.Endpoints.PredictAsync("automl-live", new PredictRequest([new Dictionary<string, JsonElement>
        {
            ["a"] = JsonSerializer.SerializeToElement(1.5),
            ["b"] = JsonSerializer.SerializeToElement(1.5),
            ["shop"] = JsonSerializer.SerializeToElement("web"),
        }]));
        Assert.Equal("pos", answer.Predictions[0].Label);
    }

    [Fact]
    public async Task Should_run_trials_side_by_side_on_the_free_worker_slots_and_leave_the_rest_to_other_jobs()
    {
        await using var server = await TestServer.StartAsync(o => o.Jobs.WorkerSlots = 3);
        var client = server.Client();
        await client.Datasets.UploadAsync("automl-parallel", Data(300));
        var bad = await Assert.ThrowsAsync<StratusApiException>(() => client.Jobs.AutoMlAsync(new AutoMlRequest("automl-parallel", "label", 10, Parallel: 0)));
        Assert.Equal("parallel", bad.Field);

        var search = await client.Jobs.AutoMlAsync(new AutoMlRequest("automl-parallel", "label", 8, Parallel: 2));
        var lines = new List<string>();
        var following = client.Jobs.WaitAsync(search.Id, l => lines.Add(l.Line), ct: TestContext.Current.CancellationToken);
        for (var i = 0; i < 200 && !lines.Any(l => l.Contains("at a time", StringComparison.Ordinal)); i++) await Task.Delay(25, TestContext.Current.CancellationToken);
        // Two of the three slots are the search's; the third still takes a training job at once.
        var train = await client.Jobs.TrainAsync(new TrainRequest("automl-parallel", "label", Iterations: 5));
        var trained = await client.Jobs.WaitAsync(train.Id, ct: TestContext.Current.CancellationToken);
        var done = await following;

        Assert.True(done.Status == JobStatus.Succeeded, $"{done.Status}: {done.Error}\n{string.Join('\n', lines)}");
        Assert.Contains(lines, l => l.Contains("2 trials at a time", StringComparison.Ordinal));
        Assert.Equal(JobStatus.Succeeded, trained.Status);
        // It started on the free slot while the search ran (its process's start and its training may outlast the search).
        Assert.True(trained.StartedAt < done.EndedAt, "the training job waited for the search");
    }

    [Theory]
    [InlineData("label", 2, null, "budget_seconds", "between 5 and 86400")]
    [InlineData("label", 10, "rmse", "metric", "does not apply to binary")]
    [InlineData("nope", 10, null, "target", "does not exist")]
    public async Task Should_refuse_a_search_that_cannot_run(string target, int budget, string? metric, string field, string expected)
    {
        await _client.Datasets.UploadAsync("automl-bad", Data(50));
        var ex = await Assert.ThrowsAsync<StratusApiException>(() => _client.Jobs.AutoMlAsync(new AutoMlRequest("automl-bad", target, budget, Metric: metric)));
        Assert.Equal(HttpStatusCode.BadRequest, ex.Status);
        Assert.Equal(field, ex.Field);
        Assert.Contains(expected, ex.Detail);
    }

    [Fact]
    public async Task Should_refuse_a_search_of_data_it_cannot_learn_from_when_it_is_submitted()
    {
        // More feature columns than rows, and a regression target with a NaN: refused at once, naming the cause.
        var wide = new StringBuilder(string.Join(',', Enumerable.Range(0, 20).Select(c => $"x{c}")) + ",label\n");
        for (var i = 0; i < 12; i++) wide.Append(string.Join(',', Enumerable.Range(0, 20).Select(c => ((i * 7 + c * 3) % 11).ToString(CultureInfo.InvariantCulture)))).Append(i % 2 == 0 ? ",a\n" : ",b\n");
        await _client.Datasets.UploadAsync("automl-wide", new MemoryStream(Encoding.UTF8.GetBytes(wide.ToString())));
        var tooWide = await Assert.ThrowsAsync<StratusApiException>(() => _client.Jobs.AutoMlAsync(new AutoMlRequest("automl-wide", "label", 10)));
        Assert.Equal((HttpStatusCode.BadRequest, "dataset"), (tooWide.Status, tooWide.Field));
        Assert.Contains("12 rows have a target and there are 20 feature columns", tooWide.Detail);

        var infinite = new StringBuilder("x,y\n");
        for (var i = 0; i < 40; i++) infinite.Append(CultureInfo.InvariantCulture, $"{i},{(i == 7 ? "nan" : (i * 1.5).ToString(CultureInfo.InvariantCulture))}\n");
        await _client.Datasets.UploadAsync("automl-inf", new MemoryStream(Encoding.UTF8.GetBytes(infinite.ToString())));
        var notFinite = await Assert.ThrowsAsync<StratusApiException>(() => _client.Jobs.AutoMlAsync(new AutoMlRequest("automl-inf", "y", 10)));
        Assert.Equal((HttpStatusCode.BadRequest, "target"), (notFinite.Status, notFinite.Field));
        Assert.Contains("holds 1 value that is NaN or infinite", notFinite.Detail);
    }
}
