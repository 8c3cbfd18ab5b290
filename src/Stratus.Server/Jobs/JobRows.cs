using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Stratus.Server.Jobs;

public sealed class JobRow
{
    public required string Id { get; set; }
    public required string Kind { get; set; }
    public required string Status { get; set; }
    public required string SpecJson { get; set; }
    public string? RunId { get; set; }
    public int Attempts { get; set; }
    public int MaxRunSeconds { get; set; }
    public int Retries { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? EndedAt { get; set; }
    public string? Error { get; set; }
    public string? ResultJson { get; set; }
    public string? CreatedBy { get; set; }
}

public sealed class JobLogRow
{
    public long Id { get; set; }
    public required string JobId { get; set; }
    public DateTimeOffset Time { get; set; }
    public required string Line { get; set; }
}

internal sealed class JobRowConfiguration : IEntityTypeConfiguration<JobRow>, IEntityTypeConfiguration<JobLogRow>
{
    public void Configure(EntityTypeBuilder<JobRow> b)
    {
        b.ToTable("jobs");
        b.HasKey(x => x.Id);
        b.HasIndex(x => new { x.Status, x.CreatedAt });
    }

    public void Configure(EntityTypeBuilder<JobLogRow> b)
    {
        b.ToTable("job_log");
        b.HasIndex(x => new { x.JobId, x.Id });
    }
}
