using System.Net;
using System.Text.Json;
using Stratus.Testing;

namespace Stratus.Server.Tests;

public sealed class OpenApiTests(SharedServer shared) : IClassFixture<SharedServer>
{
    [Fact]
    public async Task Should_serve_an_openapi_3_1_document_that_matches_the_checked_in_copy()
    {
        using var http = shared.Server.Http(shared.Server.AdminToken);
        var live = await http.GetStringAsync("openapi/v1.json");
        using var doc = JsonDocument.Parse(live);
        Assert.StartsWith("3.1", doc.RootElement.GetProperty("openapi").GetString());
        Assert.True(doc.RootElement.GetProperty("paths").TryGetProperty("/api/v1/datasets/{name}/versions", out _));

        var checkedIn = Path.Combine(Repo.Root, "docs", "openapi", "v1.json");
        if (Environment.GetEnvironmentVariable("STRATUS_UPDATE_OPENAPI") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(checkedIn)!);
            await File.WriteAllTextAsync(checkedIn, Normalize(live), TestContext.Current.CancellationToken);
        }
        Assert.True(File.Exists(checkedIn), "docs/openapi/v1.json is missing; run the tests with STRATUS_UPDATE_OPENAPI=1");
        Assert.True(Normalize(live) == Normalize(await File.ReadAllTextAsync(checkedIn, TestContext.Current.CancellationToken)),
            "docs/openapi/v1.json is out of date; run the tests with STRATUS_UPDATE_OPENAPI=1 and commit it");
    }

    [Fact]
    public async Task Should_serve_the_interactive_reference_page()
    {
        using var http = shared.Server.Http(shared.Server.AdminToken);
        var response = await http.GetAsync("docs/v1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("scalar.js", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // The page's script is served by the server itself: the reference works with no internet access.
        var script = await http.GetAsync("docs/scalar.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.True((await script.Content.ReadAsByteArrayAsync()).Length > 100_000);
    }

    private static string Normalize(string json)
    {
        // The server's own address differs per run; everything else must match.
        var options = new JsonSerializerOptions { WriteIndented = true };
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        node.Remove("servers");
        return node.ToJsonString(options).ReplaceLineEndings("\n") + "\n";
    }
}
