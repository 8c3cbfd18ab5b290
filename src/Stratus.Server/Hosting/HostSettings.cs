using Stratus.Server.Kernel;

namespace Stratus.Server.Hosting;

/// <summary>The HTTP side of a node, its log and its traces (bound from the <c>Stratus</c> section; see <see cref="StratusOptions"/>).</summary>
public sealed class HostSettings
{
    /// <summary>The URLs to listen on. Default: <c>http://127.0.0.1:5080</c> (loopback only).</summary>
    public string Urls { get; set; } = "http://127.0.0.1:5080";

    /// <summary>
    /// Serve HTTPS with a certificate made on first start and kept in <c>&lt;DataDir&gt;/tls/</c>: self-signed for
    /// localhost, 127.0.0.1, ::1 and this host's name, its SHA-256 fingerprint printed at start for clients to pin. For
    /// the URLs in <c>Urls</c> that start with <c>https://</c> (<c>stratus up --tls</c> sets one). Default: off.
    /// </summary>
    public bool Tls { get; set; }

    /// <summary>
    /// The certificate to serve the <c>https://</c> URLs with: a PEM file (its key in the same file or in
    /// <c>HttpsCertificateKey</c>) or a PKCS#12 file (<c>.pfx</c>, <c>.p12</c>, no password). Default: none.
    /// </summary>
    public string? HttpsCertificate { get; set; }

    /// <summary>The PEM private key of <c>HttpsCertificate</c>, when it is not in the certificate's file. Default: none.</summary>
    public string? HttpsCertificateKey { get; set; }

    /// <summary>Host names the server answers to (host filtering). Default: <c>localhost;127.0.0.1;[::1]</c>; set the server's public name when binding beyond loopback.</summary>
    public string AllowedHosts { get; set; } = "localhost;127.0.0.1;[::1]";

    /// <summary>Largest JSON request body, in bytes. Default: 16 MiB.</summary>
    public long MaxJsonBodyBytes { get; set; } = 16L << 20;

    /// <summary>
    /// How the node logs: <c>text</c> writes every line to <c>&lt;DataDir&gt;/logs/stratus.log</c> and only errors to
    /// the console (which keeps the platform's own messages for a person); <c>json</c> writes one JSON object per line
    /// to standard output, for a log collector. Default: <c>text</c>.
    /// </summary>
    public string LogFormat { get; set; } = "text";

    /// <summary>
    /// An OpenTelemetry collector taking OTLP over HTTP (such as <c>http://localhost:4318</c>) to send traces to; the
    /// standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> works too. Default: none (no traces are recorded).
    /// </summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>How often recorded spans are sent to the collector. Default: 5 seconds.</summary>
    public TimeSpan OtlpExportInterval { get; set; } = TimeSpan.FromSeconds(5);

    public SettingProblems Problems()
    {
        var problems = new SettingProblems();
        if (string.IsNullOrWhiteSpace(Urls)) problems.Add("Stratus:Urls is empty; name at least one URL to listen on, such as http://127.0.0.1:5080");
        var https = Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Any(u => u.StartsWith("https://", StringComparison.OrdinalIgnoreCase));
        if (https && !Tls && string.IsNullOrWhiteSpace(HttpsCertificate))
            problems.Add($"Stratus:Urls has an https:// URL ({Urls}) but no certificate; set Stratus:HttpsCertificate to a certificate file, or Stratus:Tls=true for one made on first start");
        if (!https && (Tls || !string.IsNullOrWhiteSpace(HttpsCertificate)))
            problems.Add($"Stratus:{(Tls ? nameof(Tls) : nameof(HttpsCertificate))} is set but no URL in Stratus:Urls ({Urls}) starts with https://");
        foreach (var (name, file) in new[] { (nameof(HttpsCertificate), HttpsCertificate), (nameof(HttpsCertificateKey), HttpsCertificateKey) })
        {
            if (!string.IsNullOrWhiteSpace(file) && !File.Exists(file)) problems.Add($"Stratus:{name}: {file} does not exist");
        }
        if (!string.IsNullOrWhiteSpace(HttpsCertificateKey) && string.IsNullOrWhiteSpace(HttpsCertificate))
            problems.Add($"Stratus:{nameof(HttpsCertificateKey)} is set without Stratus:{nameof(HttpsCertificate)}");
        problems.AtLeast(nameof(MaxJsonBodyBytes), MaxJsonBodyBytes, 1024);
        if (LogFormat is not ("text" or "json")) problems.Add($"Stratus:{nameof(LogFormat)} is '{LogFormat}'; use text or json");
        problems.Positive(nameof(OtlpExportInterval), OtlpExportInterval);
        return problems;
    }
}
