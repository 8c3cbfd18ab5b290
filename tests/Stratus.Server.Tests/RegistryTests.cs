using System.Net;
using Stratus.Client;
using Stratus.Testing;

namespace Stratus.Server.Tests;

public sealed class RegistryTests(SharedServer shared) : IClassFixture<SharedServer>
{
    private readonly StratusClient _client = shared.Server.Client();

    private async Task<RunInfo> TrainedRun(string dataset, string content)
    {
        await _client.Datasets.UploadAsync(dataset, new MemoryStream(System.Text.Encoding.UTF8.GetBytes("f,t\n1,0\n2,1\n")));
        var run = await _client.Runs.CreateAsync(new CreateRunRequest("registry"));
        await _client.Runs.LogInputsAsync(run.Id, [dataset]);
        await _client.Runs.LogArtifactAsync(run.Id, "model.zip", Package(content));
        return await _client.Runs.EndAsync(run.Id);
    }

    /// <summary>A real (ONNX) model package, different for each <paramref name="content"/>: only loadable packages become versions.</summary>
    private static MemoryStream Package(string content)
    {
        var package = new MemoryStream();
        Stratus.Ml.Inference.ModelPackage.ImportOnnx(OnnxGraph.Mlp(content.GetHashCode(StringComparison.Ordinal), 2, 4, 2).Model, null, package);
        package.Position = 0;
        return package;
    }

    [Fact]
    public async Task Should_register_only_artifacts_that_are_loadable_model_packages()
    {
        var run = await _client.Runs.CreateAsync(new CreateRunRequest("registry"));
        await _client.Runs.LogArtifactAsync(run.Id, "page.html", new MemoryStream("<html><script>alert(1)</script></html>"u8.ToArray()));
        byte[] emptyZip = [0x50, 0x4b, 0x05, 0x06, .. new byte[18]]; // a zip archive with no entries
        await _client.Runs.LogArtifactAsync(run.Id, "empty.zip", new MemoryStream(emptyZip));

        foreach (var (path, reason) in new[] { ("page.html", "not a model package this server can load"), ("empty.zip", "manifest.json is missing") })
        {
            var refused = await Assert.ThrowsAsync<StratusApiException>(() => _client.Models.CreateVersionAsync("planted", new CreateModelVersionRequest(run.Id, path)));
            Assert.Equal((HttpStatusCode.UnprocessableEntity, true), (refused.Status, refused.Detail!.Contains(reason, StringComparison.Ordinal)));
            Assert.Contains($"artifact '{path}' of run '{run.Id}'", refused.Detail);
        }
        var none = await Assert.ThrowsAsync<StratusApiException>(() => _client.Models.GetAsync("planted"));
        Assert.Equal(HttpStatusCode.NotFound, none.Status);
    }

    [Fact]
    public async Task Should_register_versions_with_lineage_and_resolve_every_reference_form()
    {
        var run1 = await TrainedRun("reg-data", "model-1");
        var run2 = await TrainedRun("reg-data", "model-2");

        var v1 = await _client.Models.CreateVersionAsync("fraud", new CreateModelVersionRequest(run1.Id, "model.zip", "baseline"));
        var v2 = await _client.Models.CreateVersionAsync("fraud", new CreateModelVersionRequest(run2.Id, "model.zip"));
        Assert.Equal((1, 2), (v1.Version, v2.Version));
        Assert.Equal(run1.Id, v1.Lineage.RunId);
        Assert.Equal("reg-data", Assert.Single(v1.Lineage.Datasets).Dataset);

        await _client.Models.SetAliasAsync("fraud", "champion", 1);
        Assert.Equal(1, (await _client.Models.ResolveAsync("fraud@champion")).Version);
        Assert.Equal(2, (await _client.Models.ResolveAsync("fraud")).Version);
        Assert.Equal(2, (await _client.Models.ResolveAsync("fraud:2")).Version);
        Assert.Equal(["champion"], (await _client.Models.ResolveAsync("fraud:1")).Aliases);

        await _client.Models.SetAliasAsync("fraud", "champion", 2);
        var model = await _client.Models.GetAsync("fraud");
        Assert.Equal(2, model.Aliases["champion"]);
        Assert.Equal(2, model.LatestVersion);

        // Rolling back takes the alias to where it pointed before; rolling back again, forward again. Every move is kept.
        Assert.Equal(1, (await _client.Models.RollBackAliasAsync("fraud", "champion")).Version);
        Assert.Equal(1, (await _client.Models.ResolveAsync("fraud@champion")).Version);
        Assert.Equal(2, (await _client.Models.RollBackAliasAsync("fraud", "champion")).Version);
        var history = await _client.Models.AliasHistoryAsync("fraud");
        Assert.Equal([2, 1, 2, 1], history.Select(h => h.Version));
        Assert.All(history, h => Assert.Equal("admin", h.Actor));
        await _client.Models.SetAliasAsync("fraud", "staging", 2);
        var nothingBefore = await Assert.ThrowsAsync<StratusApiException>(() => _client.Models.RollBackAliasAsync("fraud", "staging"));
        Assert.Equal(HttpStatusCode.Conflict, nothingBefore.Status);
        Assert.Contains("nothing to roll back to", nothingBefore.Message);
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<StratusApiException>(() => _client.Models.RollBackAliasAsync("fraud", "nightly"))).Status);
        await _client.Models.DeleteAliasAsync("fraud", "staging");

        var updated = await _client.Models.UpdateAsync("fraud", new UpdateModelRequest("card fraud", new Dictionary<string, string> { ["owner"] = "risk" }));
        Assert.Equal("risk", updated.Tags["owner"]);

        var file = Path.GetTempFileName();
        try
        {
            Assert.Equal(v1.Sha256, await _client.Models.DownloadAsync("fraud:1", file));
            await using var downloaded = File.OpenRead(file);
            Assert.Equal("onnx", Stratus.Ml.Inference.ModelPackage.ReadManifest(downloaded).Trainer); // the package itself, byte for byte (the hash above)
        }
        finally
        {
            File.Delete(file);
        }

        await _client.Models.DeleteAliasAsync("fraud", "champion");
        var gone = await Assert.ThrowsAsync<StratusApiException>(() => _client.Models.ResolveAsync("fraud@champion"));
        Assert.Equal(HttpStatusCode.NotFound, gone.Status);
    }

    [Theory]
    [InlineData("fraud:0", "version")]
    [InlineData("fraud:x", "version")]
    [InlineData("../fraud", "model name")]
    [InlineData("fraud@", "alias")]
    public async Task Should_refuse_malformed_references(string reference, string expected)
    {
        var ex = await Assert.ThrowsAsync<StratusApiException>(() => _client.Models.ResolveAsync(reference));
        Assert.Equal(HttpStatusCode.BadRequest, ex.Status);
        Assert.Contains(expected, ex.Detail);
    }

    [Fact]
    public async Task Should_refuse_a_version_from_a_missing_artifact_or_an_alias_to_a_missing_version()
    {
        var run = await TrainedRun("reg-data2", "m");
        var missing = await Assert.ThrowsAsync<StratusApiException>(() =>
            _client.Models.CreateVersionAsync("other", new CreateModelVersionRequest(run.Id, "nope.zip")));
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);

        await _client.Models.CreateVersionAsync("other", new CreateModelVersionRequest(run.Id, "model.zip"));
        var alias = await Assert.ThrowsAsync<StratusApiException>(() => _client.Models.SetAliasAsync("other", "prod", 9));
        Assert.Equal("version", alias.Field);
    }

    [Fact]
    public async Task Should_number_concurrent_registrations_of_a_new_model_without_gaps()
    {
        var run = await TrainedRun("reg-data3", "concurrent");
        var versions = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            _client.Models.CreateVersionAsync("concurrent", new CreateModelVersionRequest(run.Id, "model.zip"))));
        Assert.Equal([1, 2, 3, 4], versions.Select(v => v.Version).Order());
    }
}
