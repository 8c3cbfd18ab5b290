using System.Diagnostics;
using System.Text.Json;

namespace Stratus.Cli.Tests;

public sealed class DemoTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("stratus-demo-").FullName;

    public void Dispose() => Directory.Delete(_home, recursive: true);

    [Fact]
    public async Task Should_print_a_curl_command_that_works_as_printed()
    {
        if (OperatingSystem.IsWindows()) return;
        await using var server = await ServerProcess.StartAsync(_home, extra: "--demo");
        string? curl = null;
        for (var i = 0; i < 900 && curl is null; i++)
        {
            curl = server.Output.Split('\n').FirstOrDefault(l => l.StartsWith("curl ", StringComparison.Ordinal));
            if (curl is null) await Task.Delay(200);
        }
        Assert.True(curl is not null, $"no curl command printed:\n{server.Output}");

        var info = new ProcessStartInfo("bash", ["-c", curl]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();

        using var answer = JsonDocument.Parse(output);
        var predictions = answer.RootElement.GetProperty("predictions");
        Assert.Equal(2, predictions.GetArrayLength());
        Assert.Equal("fraud-detector", answer.RootElement.GetProperty("model").GetProperty("name").GetString());
        // The risky transaction scores higher than the everyday one.
        Assert.True(predictions[0].GetProperty("probabilities").GetProperty("1").GetDouble() > predictions[1].GetProperty("probabilities").GetProperty("1").GetDouble());

        // The demo's traffic saw prices rise: the drift check says so, and a policy watches the endpoint from now on.
        var printed = string.Join(' ', server.Output.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        Assert.Matches(@"2,000 requests captured, prices up 80% in the second half; drift check: amount \(psi \d\.\d\d\) drifted", printed);
        Assert.Contains("stratus monitor report fraud", printed);

        // Only what a person needs on the terminal; the hosting framework's lines are in the log file.
        Assert.DoesNotContain("info:", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("warn:", server.Output, StringComparison.Ordinal);
        var log = await File.ReadAllTextAsync(Path.Combine(_home, "logs", "stratus.log"));
        Assert.Contains("Microsoft.Hosting.Lifetime: Now listening on", log, StringComparison.Ordinal);
    }
}
