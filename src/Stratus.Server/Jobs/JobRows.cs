using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Stratus.Server.Jobs;

public sealed class JobRow : Security.IProjectOwned
{
    /// <inheritdoc/>
    public string Project { get; set; } = "";

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

    /// <summary>
    /// Bumped by every claim: a job process writes its heartbeat and its outcome only while the job is still RUNNING
    /// with its own epoch, so a process whose claim was given up (its lease ran out, the job was resumed elsewhere)
    /// can never complete the job a second time.
    /// </summary>
    public int Epoch { get; set; }

    /// <summary>Until when the current claim holds without a heartbeat; past it the job is resumed elsewhere.</summary>
    public DateTimeOffset? LeaseExpiresAt { get; set; }

    /// <summary>Where the current claim runs: <c>host/pid</c> of the job process (the node's until it starts).</summary>
    public string? Worker { get; set; }

    /// <summary>A cancel was asked for while the job ran; its process stops, marks its run killed and ends the job CANCELLED.</summary>
    public bool CancelRequested { get; set; }
}

public sealed class JobLogRow
{
    public long Id { get; set; }
    public required string JobId { get; set; }
    public DateTimeOffset Time { get; set; }
    public required string Line { get; set; }
}

/// <summary>
/// A part of a batch job's output scored by an attempt, kept in the blob store: an attempt on another node after a
/// crash fetches these instead of scoring them again. Removed when the job ends.
/// </summary>
public sealed class JobPartRow
{
    public required string JobId { get; set; }
    public required string Name { get; set; }
    public required string Sha256 { get; set; }
}

internal sealed class JobRowConfiguration : IEntityTypeConfiguration<JobRow>, IEntityTypeConfiguration<JobLogRow>, IEntityTypeConfiguration<JobPartRow>
{
    public void Configure(EntityTypeBuilder<JobPartRow> b)
    {
        b.ToTable("job_parts");
        b.HasKey(x => new { x.JobId, x.Name });
        b.Property(x => x.Name).HasMaxLength(100);
        b.Property(x => x.Sha256).HasMaxLength(64);
    }

    public void Configure(EntityTypeBuilder<JobRow> b)
    {
        b.ToTable("jobs");
        b.HasKey(x => x.Id);
        b.HasIndex(x => new { x.Status, x.CreatedAt });
        b.Property(x => x.Worker).HasMaxLength(300);
    }

    public void Configure(EntityTypeBuilder<JobLogRow> b)
    {
        b.ToTable("job_log");
        b.HasIndex(x => new { x.JobId, x.Id });
    }
}
