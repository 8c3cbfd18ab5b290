using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Stratus.Client;
using Stratus.Server.Storage;
using Stratus.Testing;

namespace Stratus.Server.Tests;

public sealed class TrainingJobsTests(SharedServer shared) : IClassFixture<SharedServer>
{
    private readonly StratusClient _client = shared.Server.Client();

    private static MemoryStream Transactions(int rows, int seed = 1)
    {
        var random = new Random(seed);
        var csv = new StringBuilder("amount,category,hour,fraud\n");
        for (var i = 0; i < rows; i++)
        {
            var fraud = random.NextDouble() < 0.2;
            csv.Append(CultureInfo.InvariantCulture, $"{(fraud ? 400 : 30) + random.NextDouble() * 40:F2},{(fraud ? "online" : "grocery")},{random.Next(24)},{(fraud ? 1 : 0)}\n");
        }
        return new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString()));
    }

    [Fact]
    public async Task Should_train_track_package_and_register_a_model_through_a_job()
    {
        await _client.Datasets.UploadAsync("train-tx", Transactions(400));

        var job = await _client.Jobs.TrainAsync(new TrainRequest("train-tx", "fraud", Register: "train-fraud", Iterations: 20));
        Assert.Equal(JobStatus.Queued, job.Status);
        var lines = new List<string>();
        var done = await _client.Jobs.WaitAsync(job.Id, l => lines.Add(l.Line), ct: TestContext.Current.CancellationToken);

        Assert.True(done.Status == JobStatus.Succeeded, $"{done.Status}: {done.Error}\n{string.Join('\n', lines)}");
        var result = done.Result!;
        Assert.Equal("binary", result.Task);
        Assert.True(result.Metrics["auc"] > 0.95);
        Assert.Equal(new ModelVersionRef("train-fraud", 1), result.Model);
        Assert.Contains(lines, l => l.Contains("registered train-fraud:1", StringComparison.Ordinal));
        Assert.True(done.Attempts == 1, $"attempts: {done.Attempts}\n{string.Join('\n', lines)}"); // a resumed attempt logs its folds again
        Assert.Equal(5, lines.Count(l => l.StartsWith("fold ", StringComparison.Ordinal) && l.Contains(" s: auc", StringComparison.Ordinal)));
        Assert.Contains(lines, l => l.StartsWith("fold 1/5: iteration 1/20, valid log_loss", StringComparison.Ordinal));
        Assert.Equal(20, result.Iterations);
        Assert.Equal(["0", "1"], result.ConfusionMatrix!.Labels);
        Assert.Equal(400, result.ConfusionMatrix.Counts.Sum(r => r.Sum()));

        var run = await _client.Runs.GetAsync(result.RunId);
        Assert.Equal(RunStatus.Finished, run.Status);
        Assert.Equal("lightgbm", run.Params["trainer"]);
        Assert.Equal(result.Metrics["auc"], run.LatestMetrics["auc"], 9);
        Assert.Equal("train-tx", Assert.Single(run.Inputs).Dataset);
        var artifacts = await _client.Runs.ListArtifactsAsync(result.RunId);
        Assert.Contains(artifacts, a => a.Path == "feature_importance.json");
        Assert.Contains(artifacts, a => a.Path == "confusion_matrix.json");
        // The learning curve: one point per boosting iteration, averaged over the folds.
        var curve = await _client.Runs.GetMetricsAsync(result.RunId, "valid.log_loss");
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), curve.Select(p => p.Step));
        Assert.True(curve[^1].Value < curve[0].Value, "validation loss fell over the iterations");
        Assert.Equal(20, (await _client.Runs.GetMetricsAsync(result.RunId, "train.auc")).Count);
        Assert.Equal(["amount", "category", "hour"], result.FeatureImportance!.Keys.Order());
        var version = await _client.Models.ResolveAsync("train-fraud:1");
        Assert.Equal("model/package.zip", version.ArtifactPath);
        Assert.Equal("train-tx", Assert.Single(version.Lineage.Datasets).Dataset);
    }

    [Theory]
    [InlineData("nope", null, "target", "does not exist")]
    [InlineData("constant", null, "target", "constant")]
    [InlineData("fraud", "xgboost", "trainer", "not one of")]
    public async Task Should_refuse_a_training_request_that_does_not_fit_the_dataset(string target, string? trainer, string field, string expected)
    {
        await _client.Datasets.UploadAsync("train-bad", new MemoryStream("x,constant,fraud\n1,5,0\n2,5,1\n3,5,0\n"u8.ToArray()));
        var before = (await _client.Jobs.ListAsync()).Items.Count;
        var ex = await Assert.ThrowsAsync<StratusApiException>(() => _client.Jobs.TrainAsync(new TrainRequest("train-bad", target, Trainer: trainer)));
        Assert.Equal(HttpStatusCode.BadRequest, ex.Status);
        Assert.Equal(field, ex.Field);
        Assert.Contains(expected, ex.Detail);
        Assert.Equal(before, (await _client.Jobs.ListAsync()).Items.Count);
    }

    [Theory]
    [InlineData("sdca", 5, "applies to lightgbm, not sdca")]
    [InlineData("lightgbm", 0, "must be between 1 and 10000")]
    public async Task Should_refuse_early_stopping_that_cannot_apply(string trainer, int rounds, string expected)
    {
        await _client.Datasets.UploadAsync("train-es", Transactions(100));
        var ex = await Assert.ThrowsAsync<StratusApiException>(() => _client.Jobs.TrainAsync(new TrainRequest("train-es", "fraud", Trainer: trainer, EarlyStoppingRounds: rounds)));
        Assert.Equal(HttpStatusCode.BadRequest, ex.Status);
        Assert.Equal("early_stopping_rounds", ex.Field);
        Assert.Contains(expected, ex.Detail);
    }

    [Fact]
    public async Task Should_cancel_a_job_and_refuse_cancelling_it_twice()
    {
        await _client.Datasets.UploadAsync("train-cancel", Transactions(3000, seed: 2));
        // 20 folds of 2,000 trees: far longer than the cancel takes to arrive, which stops it at the next boosting iteration.
        var job = await _client.Jobs.TrainAsync(new TrainRequest("train-cancel", "fraud", Iterations: 2000, Folds: 20, Register: "never-registered"));
        JobInfo running = job;
        for (var i = 0; i < 400 && running.RunId is null; i++)
        {
            await Task.Delay(25, TestContext.Current.CancellationToken);
            running = await _client.Jobs.GetAsync(job.Id);
        }
        await _client.Jobs.CancelAsync(job.Id);
        var done = await _client.Jobs.WaitAsync(job.Id, ct: TestContext.Current.CancellationToken);

        Assert.Equal(JobStatus.Cancelled, done.Status);
        Assert.Null(done.Result);
        Assert.Equal(RunStatus.Killed, (await _client.Runs.GetAsync(running.RunId!)).Status);
        var model = await Assert.ThrowsAsync<StratusApiException>(() => _client.Models.GetAsync("never-registered"));
        Assert.Equal(HttpStatusCode.NotFound, model.Status);
        var twice = await Assert.ThrowsAsync<StratusApiException>(() => _client.Jobs.CancelAsync(job.Id));
        Assert.Equal(HttpStatusCode.Conflict, twice.Status);
    }

    [Fact]
    public async Task Should_retry_a_job_that_failed_for_a_storage_fault_and_then_fail_without_leaking_server_paths()
    {
        var data = await _client.Datasets.UploadAsync("train-fault", Transactions(200, seed: 4));
        // A storage fault: the dataset's Parquet blob vanishes from the store (a file, or an object).
        await shared.Server.Services.GetRequiredService<IBlobStore>().DeleteAsync(data.ParquetSha256, TestContext.Current.CancellationToken);

        var job = await _client.Jobs.TrainAsync(new TrainRequest("train-fault", "fraud", Retries: 1));
        var lines = new List<string>();
        var done = await _client.Jobs.WaitAsync(job.Id, l => lines.Add(l.Line), ct: TestContext.Current.CancellationToken);

        Assert.Equal(JobStatus.Failed, done.Status);
        Assert.Equal(2, done.Attempts);
        Assert.Contains(lines, l => l.StartsWith("attempt 1 failed", StringComparison.Ordinal));
        Assert.Contains("internal error", done.Error);
        Assert.DoesNotContain(shared.Server.DataDir, done.Error);
        Assert.DoesNotContain(shared.Server.DataDir, string.Join('\n', lines));
        var runs = (await _client.Runs.ListAsync("train-fault")).Items;
        Assert.Equal(2, runs.Count);
        Assert.All(runs, r => Assert.Equal((RunStatus.Failed, "internal error (FileNotFoundException)"), (r.Status, r.FailureReason)));
    }
}
