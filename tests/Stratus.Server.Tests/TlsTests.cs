using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Stratus.Client;
using Stratus.Server.Hosting;
using Stratus.Server.Kernel;
using Stratus.Testing;

namespace Stratus.Server.Tests;

/// <summary>HTTPS on loopback: a certificate made on first start and pinned by its fingerprint, or the operator's own.</summary>
public sealed class TlsTests
{
    [Fact]
    public async Task Should_serve_https_with_a_certificate_made_once_that_only_its_pinned_fingerprint_trusts()
    {
        var dataDir = Directory.CreateTempSubdirectory("stratus-tls-").FullName;
        try
        {
            string fingerprint;
            await using (var server = await TestServer.StartAsync(Https, dataDir))
            {
                Assert.StartsWith("https://127.0.0.1:", server.Url, StringComparison.Ordinal);
                // What the server wrote for a local CLI: its URL and its certificate's fingerprint; the key owner-only.
                var local = JsonSerializer.Deserialize<Dictionary<string, string>>(await File.ReadAllTextAsync(Path.Combine(dataDir, "server.json")))!;
                fingerprint = local["fingerprint"];
                Assert.Equal(server.Url, local["url"]);
                Assert.Matches("^([0-9A-F]{2}:){31}[0-9A-F]{2}$", fingerprint);
                if (!OperatingSystem.IsWindows())
                    Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dataDir, "tls", "server.pfx")));
                var publicHalf = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Path.Combine(dataDir, "tls", "server.crt")));
                Assert.False(publicHalf.HasPrivateKey);
                Assert.Equal(fingerprint.Replace(":", "", StringComparison.Ordinal), Convert.ToHexString(SHA256.HashData(publicHalf.RawData)));

                // A client that trusts the usual authorities refuses it; one that pins the fingerprint talks to it.
                using (var untrusting = new HttpClient { BaseAddress = new Uri(server.Url + "/") })
                {
                    var refused = await Assert.ThrowsAsync<HttpRequestException>(() => untrusting.GetAsync("health/ready"));
                    Assert.IsType<AuthenticationException>(refused.InnerException);
                }
                var pinned = StratusClient.Create(server.Url, server.AdminToken, fingerprint: fingerprint);
                Assert.Equal("admin", (await pinned.WhoAmIAsync()).Role);
                var wrong = StratusClient.Create(server.Url, server.AdminToken, fingerprint: new string('A', 64));
                Assert.IsType<AuthenticationException>((await Assert.ThrowsAsync<HttpRequestException>(() => wrong.WhoAmIAsync())).InnerException);

                // Browsers are told to keep to HTTPS, and the console's cookie is sent over HTTPS only.
                using var browser = Pinned(server.Url, fingerprint);
                using var health = await browser.GetAsync("health/ready");
                Assert.Equal("max-age=31536000", health.Headers.GetValues("Strict-Transport-Security").Single());
                using var signIn = await browser.PostAsync("console/signin", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = server.AdminToken }));
                var cookie = signIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("stratus.console", StringComparison.Ordinal));
                Assert.Contains("secure", cookie, StringComparison.OrdinalIgnoreCase);
                Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
                Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
            }

            // The next start keeps the certificate clients pinned.
            await using (var again = await TestServer.StartAsync(Https, dataDir))
            {
                var local = JsonSerializer.Deserialize<Dictionary<string, string>>(await File.ReadAllTextAsync(Path.Combine(dataDir, "server.json")))!;
                Assert.Equal(fingerprint, local["fingerprint"]);
                Assert.Equal("admin", (await StratusClient.Create(again.Url, again.AdminToken, fingerprint: fingerprint).WhoAmIAsync()).Role);
            }
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task Should_serve_https_with_the_operators_pem_certificate_and_key()
    {
        var dir = Directory.CreateTempSubdirectory("stratus-tls-pem-").FullName;
        try
        {
            using var key = RSA.Create(2048);
            var request = new CertificateRequest("CN=stratus.test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(30));
            var (certificateFile, keyFile) = (Path.Combine(dir, "server.crt"), Path.Combine(dir, "server.key"));
            await File.WriteAllTextAsync(certificateFile, certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem());

            await using var server = await TestServer.StartAsync(o =>
            {
                o.Host.Urls = "https://127.0.0.1:0";
                o.Host.HttpsCertificate = certificateFile;
                o.Host.HttpsCertificateKey = keyFile;
            });
            var fingerprint = Convert.ToHexString(SHA256.HashData(certificate.RawData));
            Assert.Equal("admin", (await StratusClient.Create(server.Url, server.AdminToken, fingerprint: fingerprint).WhoAmIAsync()).Role);
            Assert.False(Directory.Exists(Path.Combine(server.DataDir, "tls"))); // nothing made when the operator gives one
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Should_refuse_an_https_url_without_a_certificate_and_a_certificate_that_is_not_there()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "stratus-never-started");
        var refused = Assert.Throws<StartupException>(() => StratusServer.Create([], o =>
        {
            o.Storage.DataDir = dataDir;
            o.Host.Urls = "https://127.0.0.1:5443";
        }));
        Assert.Contains("Stratus:Urls has an https:// URL (https://127.0.0.1:5443) but no certificate", refused.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<StartupException>(() => StratusServer.Create([], o =>
        {
            o.Storage.DataDir = dataDir;
            o.Host.Urls = "https://127.0.0.1:5443";
            o.Host.HttpsCertificate = "/nonexistent/server.pem";
        }));
        Assert.Contains("Stratus:HttpsCertificate: /nonexistent/server.pem does not exist", missing.Message, StringComparison.Ordinal);
        var keyless = Path.GetTempFileName();
        try
        {
            using var key = ECDsa.Create();
            File.WriteAllText(keyless, new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1)).ExportCertificatePem());
            var noKey = Assert.Throws<StartupException>(() => StratusServer.Create([], o =>
            {
                o.Storage.DataDir = dataDir;
                o.Host.Urls = "https://127.0.0.1:5443";
                o.Host.HttpsCertificate = keyless;
            }));
            Assert.Contains($"Stratus:HttpsCertificate: cannot read {keyless}", noKey.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(keyless);
        }
    }

    private static void Https(StratusOptions o)
    {
        o.Host.Urls = "https://127.0.0.1:0";
        o.Host.Tls = true;
    }

    private static HttpClient Pinned(string url, string fingerprint) => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        SslOptions = { RemoteCertificateValidationCallback = (_, c, _, _) => c is not null && Convert.ToHexString(SHA256.HashData(c.GetRawCertData())) == fingerprint.Replace(":", "", StringComparison.Ordinal) },
    })
    { BaseAddress = new Uri(url + "/") };
}
