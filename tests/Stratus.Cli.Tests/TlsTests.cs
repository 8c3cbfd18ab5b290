using System.Diagnostics;

namespace Stratus.Cli.Tests;

/// <summary><c>stratus up --tls</c>: HTTPS with a certificate made on first start, which clients pin by its printed fingerprint.</summary>
public sealed class TlsTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("stratus-tls-").FullName;
    private readonly string _elsewhere = Directory.CreateTempSubdirectory("stratus-tls-client-").FullName;

    public void Dispose()
    {
        Directory.Delete(_home, recursive: true);
        Directory.Delete(_elsewhere, recursive: true);
    }

    [Fact]
    public async Task Should_serve_https_that_the_local_cli_curl_and_a_pinned_login_trust_and_nothing_else()
    {
        if (OperatingSystem.IsWindows()) return;
        await using var server = await ServerProcess.StartAsync(_home, extra: "--tls");
        Assert.StartsWith("https://", server.Url, StringComparison.Ordinal);
        var fingerprint = ServerProcess.Fingerprint(_home)!;
        // Printed once the server is up (which its readiness can precede by a moment).
        for (var i = 0; i < 100 && !server.Output.Contains("fingerprint:", StringComparison.Ordinal); i++) await Task.Delay(100);
        Assert.True(server.Output.Contains($"TLS certificate SHA-256 fingerprint: {fingerprint}", StringComparison.Ordinal), server.Output);

        // The CLI on the same machine finds the server, its token and its certificate by itself.
        var local = await Stratus.RunAsync(_home, null, "datasets", "list");
        Assert.True(local.ExitCode == 0, local.Err);

        // curl trusts the certificate's public half that the server keeps beside it.
        var info = new ProcessStartInfo("curl", ["-sf", "--cacert", Path.Combine(_home, "tls", "server.crt"), $"{server.Url}/health/ready"]) { RedirectStandardOutput = true, UseShellExecute = false };
        using (var curl = Process.Start(info)!)
        {
            await curl.WaitForExitAsync();
            Assert.Equal(0, curl.ExitCode);
        }

        // Elsewhere: without the fingerprint the certificate is not trusted, and the error says what to do; with it, a
        // login is saved and later commands trust the same certificate.
        var token = (await File.ReadAllTextAsync(Path.Combine(_home, "admin.token"))).Trim();
        var refused = await Stratus.RunAsync(_elsewhere, token, "login", "--url", server.Url);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("its certificate is not trusted; pass its SHA-256 fingerprint", refused.Err);
        var wrong = await Stratus.RunAsync(_elsewhere, token, "login", "--url", server.Url, "--fingerprint", new string('0', 64));
        Assert.Equal(1, wrong.ExitCode);
        var login = await Stratus.RunAsync(_elsewhere, token, "login", "--url", server.Url, "--fingerprint", fingerprint);
        Assert.True(login.ExitCode == 0, login.Err);
        var remote = await Stratus.RunAsync(_elsewhere, null, "datasets", "list");
        Assert.True(remote.ExitCode == 0, remote.Err);
    }
}
