using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Stratus.Client;
using Stratus.Testing;

namespace Stratus.Server.Tests;

public sealed class BatchJobsTests : IAsyncLifetime
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("stratus-batch-").FullName;
    private TestServer _server = null!;
    private StratusClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await TestServer.StartAsync(dataDir: _dataDir);
        _client = _server.Client();
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        TestServer.TryDelete(_dataDir);
    }

    [Fact]
    public async Task Should_score_a_dataset_version_as_a_job_into_a_new_version_equal_to_online_predictions_with_lineage()
    {
        var random = new Random(3);
        var csv = new StringBuilder("id,amount,category,fraud\n");
        for (var i = 0; i < 2500; i++)
        {
            var fraud = random.NextDouble() < 0.3;
            csv.Append(CultureInfo.InvariantCulture, $"{i},{(fraud ? 400 : 30) + random.NextDouble() * 300:F2},{(fraud ? "online" : random.NextDouble() < 0.5 ? "grocery" : "online")},{(fraud ? 1 : 0)}\n");
        }
        var data = await _client.Datasets.UploadAsync("payments", new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString())));
        var trained = await _client.Jobs.WaitAsync((await _client.Jobs.TrainAsync(new TrainRequest("payments", "fraud", Register: "payments-model", Iterations: 20, Exclude: ["id"]))).Id,
            ct: TestContext.Current.CancellationToken);
        Assert.Equal(JobStatus.Succeeded, trained.Status);

        var job = await _client.Jobs.BatchAsync(new BatchRequest("payments-model", "payments"));
        Assert.Equal("batch", job.Kind);
        var log = new List<string>();
        var done = await _client.Jobs.WaitAsync(job.Id, line => log.Add(line.Line), ct: TestContext.Current.CancellationToken);
        Assert.True(done.Status == JobStatus.Succeeded, done.Error);
        var result = done.Batch!;
        Assert.Equal(("payments:1", "payments-predictions:1", 2500L), (result.Dataset, result.Output, result.Rows));
        Assert.Equal(["fraud_predicted", "fraud_probability_0", "fraud_probability_1"], result.Columns);
        Assert.Contains(log, l => l.StartsWith("scored 2,500 of 2,500 rows (100%)", StringComparison.Ordinal));

        // The output: the input's rows, in order, with the predictions; its lineage is the run, whose input is the dataset version.
        var output = await _client.Datasets.GetAsync("payments-predictions:1");
        Assert.Equal(result.RunId, output.RunId);
        Assert.Equal(["id", "amount", "category", "fraud", "fraud_predicted", "fraud_probability_0", "fraud_probability_1"], output.Columns.Select(c => c.Name));
        var run = await _client.Runs.GetAsync(result.RunId);
        Assert.Equal(("payments", 1), (run.Inputs[0].Dataset, run.Inputs[0].Version));
        Assert.Equal("payments-model:1", run.Params["model"]);
        var file = Path.Combine(_dataDir, "scored.csv");
        await _client.Datasets.DownloadAsync("payments-predictions:1", file, "csv");
        var lines = (await File.ReadAllLinesAsync(file, TestContext.Current.CancellationToken)).Skip(1).Select(l => l.Split(',')).ToList();
        Assert.Equal(Enumerable.Range(0, 2500).Select(i => i.ToString(CultureInfo.InvariantCulture)), lines.Select(l => l[0]));

        // The same rows online give the same predictions.
        await _client.Endpoints.DeployAsync("payments", "payments-model:1");
        foreach (var chunk in lines.Chunk(500))
        {
            var online = await _client.Endpoints.PredictAsync("payments", new PredictRequest([.. chunk.Select(l => JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(
                string.Create(CultureInfo.InvariantCulture, $$"""{"amount": {{l[1]}}, "category": "{{l[2]}}"}"""))!)]));
            for (var r = 0; r < chunk.Length; r++)
            {
                Assert.Equal(online.Predictions[r].Label, chunk[r][4]);
                Assert.Equal(online.Predictions[r].Probabilities!["1"], double.Parse(chunk[r][6], CultureInfo.InvariantCulture), 1e-9);
            }
        }
        Assert.False(Directory.Exists(Path.Combine(_dataDir, "jobs", job.Id))); // the chunks are gone once stored
    }

    [Fact]
    public async Task Should_refuse_a_batch_job_the_model_or_dataset_cannot_run_before_queueing_it()
    {
        var (onnx, _) = OnnxGraph.Mlp(1, 2, 4, 2);
        await _client.Models.ImportAsync("pair-net", new MemoryStream(onnx), "pair.onnx", new OnnxSignature(Inputs: [new OnnxInput("x", ["left", "right"])]));
        await _client.Datasets.UploadAsync("lefts", new MemoryStream("left,other\n1,2\n3,4\n"u8.ToArray()));

        var missing = await Assert.ThrowsAsync<StratusApiException>(() => _client.Jobs.BatchAsync(new BatchRequest("pair-net", "lefts")));
        Assert.Equal((HttpStatusCode.BadRequest, "dataset"), (missing.Status, missing.Field));
        Assert.Contains("lefts:1 has no column 'right', which pair-net:1 needs", missing.Detail);
        Assert.Equal("model", (await Assert.ThrowsAsync<StratusApiException>(() => _client.Jobs.BatchAsync(new BatchRequest("nobody", "lefts")))).Field);
        Assert.Equal("dataset", (await Assert.ThrowsAsync<StratusApiException>(() => _client.Jobs.BatchAsync(new BatchRequest("pair-net", "lefts:7")))).Field);
        Assert.Equal("output", (await Assert.ThrowsAsync<StratusApiException>(() => _client.Jobs.BatchAsync(new BatchRequest("pair-net", "lefts", "no spaces")))).Field);
        Assert.DoesNotContain((await _client.Jobs.ListAsync()).Items, j => j.Kind == "batch");

        await _client.Datasets.UploadAsync("texts", new MemoryStream("left,right\n1,2\n3,oops\n"u8.ToArray()));
        var text = await Assert.ThrowsAsync<StratusApiException>(() => _client.Jobs.BatchAsync(new BatchRequest("pair-net", "texts")));
        Assert.Contains("column 'right' of texts:1 holds text; pair-net:1 reads it as FLOAT", text.Detail);
        Assert.DoesNotContain((await _client.Jobs.ListAsync()).Items, j => j.Kind == "batch");

        // A value the model cannot read fails the job naming the row and column; nothing is stored.
        var counter = new OnnxGraph().Input("n", OnnxGraph.Int64, -1, 1).Node("Cast", ["n"], ["y"], ("to", OnnxGraph.Float)).Output("y", OnnxGraph.Float, -1, 1).ToBytes();
        await _client.Models.ImportAsync("counter", new MemoryStream(counter), "counter.onnx", new OnnxSignature(Inputs: [new OnnxInput("n", ["count"])]));
        await _client.Datasets.UploadAsync("counts", new MemoryStream("count\n1\n2.5\n"u8.ToArray()));
        var failed = await _client.Jobs.WaitAsync((await _client.Jobs.BatchAsync(new BatchRequest("counter", "counts"))).Id, ct: TestContext.Current.CancellationToken);
        Assert.Equal(JobStatus.Failed, failed.Status);
        Assert.Contains("row 2, column 'count': expected a whole number, got 2.5", failed.Error);
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<StratusApiException>(() => _client.Datasets.GetAsync("counts-predictions"))).Status);
    }
}
