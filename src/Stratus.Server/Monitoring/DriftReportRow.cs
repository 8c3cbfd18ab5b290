using Stratus.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Stratus.Server.Monitoring;

/// <summary>A drift check of an endpoint: the verdict in columns (for time series), the per-column results as JSON.</summary>
public sealed class DriftReportRow
{
    public long Id { get; set; }
    public required string Endpoint { get; set; }
    public required string ModelName { get; set; }
    public int ModelVersion { get; set; }
    public DateTimeOffset From { get; set; }
    public DateTimeOffset To { get; set; }
    public long Rows { get; set; }
    public required string Status { get; set; }
    public int Drifted { get; set; }
    public double DriftShare { get; set; }

    /// <summary>The columns' results, the prediction's and the unseen columns (<see cref="DriftDetails"/>).</summary>
    [Sealed]
    public required string DetailsJson { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

internal sealed class DriftReportRowConfiguration : IEntityTypeConfiguration<DriftReportRow>
{
    public void Configure(EntityTypeBuilder<DriftReportRow> b)
    {
        b.ToTable("drift_reports");
        b.HasIndex(x => new { x.Endpoint, x.Id });
    }
}

/// <summary>A baseline set from a dataset (<see cref="MonitoringService.SetBaselineAsync"/>): it takes the place of the one training kept.</summary>
public sealed class BaselineRow
{
    public required string ModelName { get; set; }
    public int ModelVersion { get; set; }
    [Sealed]
    public required string BaselineJson { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

internal sealed class BaselineRowConfiguration : IEntityTypeConfiguration<BaselineRow>
{
    public void Configure(EntityTypeBuilder<BaselineRow> b)
    {
        b.ToTable("model_baselines");
        b.HasKey(x => new { x.ModelName, x.ModelVersion });
    }
}
