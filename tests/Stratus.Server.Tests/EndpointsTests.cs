using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Stratus.Client;
using Stratus.Testing;

namespace Stratus.Server.Tests;

public sealed class EndpointsTests : IAsyncLifetime
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("stratus-endpoints-").FullName;
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

    private async Task<ModelVersionRef> TrainAsync(string model, int seed)
    {
        var random = new Random(seed);
        var csv = new StringBuilder("amount,category,fraud\n");
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
    }
}
