using System.Diagnostics;

namespace Stratus.Server.Kernel;

/// <summary>Stratus's own spans (see <see cref="Hosting.Telemetry"/> for where they go).</summary>
public static class StratusTelemetry
{
    public const string SourceName = "Stratus";

    public static readonly ActivitySource Source = new(SourceName, typeof(StratusTelemetry).Assembly.GetName().Version?.ToString(3));
}
