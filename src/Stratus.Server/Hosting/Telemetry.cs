using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

using Stratus.Server.Kernel;

namespace Stratus.Server.Hosting;

/// <summary>
/// Traces: Stratus's own spans (a prediction and its model call) under ASP.NET Core's request spans, with the caller's
/// W3C <c>traceparent</c> continued, exported over OTLP/HTTP to <see cref="HostSettings.OtlpEndpoint"/> (or where the
/// standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> points). With neither set nothing listens, and a span costs a null check.
/// </summary>
internal static class Telemetry
{
    internal static void AddStratusTelemetry(this WebApplicationBuilder builder, HostSettings options)
    {
        var endpoint = options.OtlpEndpoint ?? Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT");
        if (string.IsNullOrWhiteSpace(endpoint)) return;
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var collector) || collector.Scheme is not ("http" or "https"))
            throw new InvalidOperationException($"OtlpEndpoint: '{endpoint}' is not an http(s) URL of an OTLP collector, such as http://localhost:4318");
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("stratus", serviceVersion: StratusTelemetry.Source.Version))
            .WithTracing(tracing => tracing
                .AddSource(StratusTelemetry.SourceName)
                // Scrapes and probes would drown the requests that matter.
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments("/metrics") && !context.Request.Path.StartsWithSegments("/health"))
                .AddOtlpExporter(o =>
                {
                    o.Protocol = OtlpExportProtocol.HttpProtobuf;
                    o.Endpoint = new Uri(collector, "v1/traces");
                    o.BatchExportProcessorOptions.ScheduledDelayMilliseconds = (int)options.OtlpExportInterval.TotalMilliseconds;
                }));
    }
}
