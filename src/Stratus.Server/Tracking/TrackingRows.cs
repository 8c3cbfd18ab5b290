using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Stratus.Server.Tracking;

public sealed class ExperimentRow : Security.IProjectOwned
{
    /// <inheritdoc/>
    public string Project { get; set; } = "";

    public long Id { get; set; }
    public required string Name { get; set; }
    public string? Description { get; set; }
    public string TagsJson { get; set; } = "{}";
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class RunRow : Security.IProjectOwned
{
    /// <inheritdoc/>
    public string Project { get; set; } = "";

    public required string Id { get; set; }
    public long ExperimentId { get; set; }
    public ExperimentRow Experiment { get; set; } = null!;
    public string? Name { get; set; }
    public required string Status { get; set; }
    public DateTimeOffset StartTime { get; set; }
    public DateTimeOffset? EndTime { get; set; }
    public DateTimeOffset HeartbeatAt { get; set; }
    public int HeartbeatTimeoutSeconds { get; set; }
    public string? FailureReason { get; set; }
    public string? CreatedBy { get; set; }
}

public sealed class RunParamRow
{
    public required string RunId { get; set; }
    public required string Key { get; set; }
    public required string Value { get; set; }
}

public sealed class RunTagRow
{
    public required string RunId { get; set; }
    public required string Key { get; set; }
    public required string Value { get; set; }
}

public sealed class MetricRow
{
    public long Id { get; set; }
    public required string RunId { get; set; }
    public required string Key { get; set; }
    public double Value { get; set; }
    public long Step { get; set; }
    public long Timestamp { get; set; }
}

public sealed class RunInputRow
{
    public required string RunId { get; set; }
    public long DatasetVersionId { get; set; }
}

public sealed class ArtifactRow
{
    public required string RunId { get; set; }
    public required string Path { get; set; }
    public required string Sha256 { get; set; }
    public long Size { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

internal sealed class TrackingRowConfiguration :
    IEntityTypeConfiguration<ExperimentRow>, IEntityTypeConfiguration<RunRow>, IEntityTypeConfiguration<RunParamRow>,
    IEntityTypeConfiguration<RunTagRow>, IEntityTypeConfiguration<MetricRow>, IEntityTypeConfiguration<RunInputRow>,
    IEntityTypeConfiguration<ArtifactRow>
{
    public void Configure(EntityTypeBuilder<ExperimentRow> b)
    {
        b.ToTable("experiments");
        b.HasIndex(x => new { x.Project, x.Name }).IsUnique();
    }

    public void Configure(EntityTypeBuilder<RunRow> b)
    {
        b.ToTable("runs");
        b.HasKey(x => x.Id);
        b.Property(x => x.Id).HasMaxLength(32);
        b.HasIndex(x => new { x.ExperimentId, x.StartTime });
        b.HasIndex(x => x.Status);
        b.HasOne(x => x.Experiment).WithMany().HasForeignKey(x => x.ExperimentId);
    }

    public void Configure(EntityTypeBuilder<RunParamRow> b)
    {
        b.ToTable("run_params");
        b.HasKey(x => new { x.RunId, x.Key });
    }

    public void Configure(EntityTypeBuilder<RunTagRow> b)
    {
        b.ToTable("run_tags");
        b.HasKey(x => new { x.RunId, x.Key });
    }

    public void Configure(EntityTypeBuilder<MetricRow> b)
    {
        b.ToTable("metrics");
        b.HasIndex(x => new { x.RunId, x.Key, x.Step });
    }

    public void Configure(EntityTypeBuilder<RunInputRow> b)
    {
        b.ToTable("run_inputs");
        b.HasKey(x => new { x.RunId, x.DatasetVersionId });
    }

    public void Configure(EntityTypeBuilder<ArtifactRow> b)
    {
        b.ToTable("artifacts");
        b.HasKey(x => new { x.RunId, x.Path });
        b.HasIndex(x => x.Sha256);
    }
}
