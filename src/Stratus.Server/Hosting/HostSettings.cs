using Stratus.Server.Kernel;

namespace Stratus.Server.Hosting;

/// <summary>The HTTP side of a node, its log and its traces (bound from the <c>Stratus</c> section; see <see cref="StratusOptions"/>).</summary>
public sealed class HostSettings
{
    /// <summary>The URLs to listen on. Default: <c>http://127.0.0.1:5080</c> (loopback only).</summary>
    public string Urls { get; set; } = "http://127.0.0.1:5080";

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
        problems.AtLeast(nameof(MaxJsonBodyBytes), MaxJsonBodyBytes, 1024);
        if (LogFormat is not ("text" or "json")) problems.Add($"Stratus:{nameof(LogFormat)} is '{LogFormat}'; use text or json");
        problems.Positive(nameof(OtlpExportInterval), OtlpExportInterval);
        return problems;
    }
}
