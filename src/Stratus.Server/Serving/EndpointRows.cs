using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Stratus.Server.Serving;

/// <summary>An endpoint; the versions it serves are its <see cref="Versions"/>.</summary>
public sealed class EndpointRow : Security.IProjectOwned
{
    public long Id { get; set; }

    /// <summary>
    /// Its key (<see cref="Projects.EndpointKey"/>): its name in its project, qualified by the project outside
    /// <c>default</c>. Serving, rollouts and monitoring know an endpoint by its key alone, in every project.
    /// </summary>
    public required string Name { get; set; }

    /// <inheritdoc/>
    public string Project { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Requests scored at once; null: the server's default.</summary>
    public int? MaxConcurrency { get; set; }

    /// <summary>Requests waiting for a turn; null: the server's default.</summary>
    public int? MaxQueue { get; set; }

    /// <summary>The share of answered requests captured for monitoring; null: none.</summary>
    public double? CaptureSampleRate { get; set; }

    /// <summary>The longest a request may take, in milliseconds; null: no limit.</summary>
    public int? TimeoutMs { get; set; }

    /// <summary>Whether requests with categories their model never saw are refused (see <see cref="EndpointLimits.StrictCategories"/>).</summary>
    public bool StrictCategories { get; set; }

    /// <summary>The most rows one batched model call scores; null: requests are not batched.</summary>
    public int? BatchMaxRows { get; set; }

    /// <summary>The most a request waits for its batch to fill, in milliseconds.</summary>
    public double? BatchMaxDelayMs { get; set; }

    /// <summary>Replicas kept running when idle; null: 1.</summary>
    public int? MinReplicas { get; set; }

    /// <summary>The most replicas; null: one per core.</summary>
    public int? MaxReplicas { get; set; }

    /// <summary>Seconds a replica may go unneeded before it stops; null: 300.</summary>
    public int? IdleSeconds { get; set; }
    public List<EndpointVersionRow> Versions { get; set; } = [];
}

/// <summary>
/// A model version behind an endpoint: its share of the requests in percent, or a shadow (weight 0). Its model is of the
/// endpoint's project, or another project's as <c>project/name</c> (under a grant).
/// </summary>
public sealed class EndpointVersionRow
{
    public long Id { get; set; }
    public long EndpointId { get; set; }
    public required string ModelRef { get; set; }
    public required string ModelName { get; set; }
    public int ModelVersion { get; set; }
    public int Weight { get; set; }
    public bool Shadow { get; set; }
}

internal sealed class EndpointRowConfiguration : IEntityTypeConfiguration<EndpointRow>
{
    public void Configure(EntityTypeBuilder<EndpointRow> b)
    {
        b.ToTable("endpoints");
        b.HasIndex(x => x.Name).IsUnique();
        // Every change sets UpdatedAt: two changes made at once from the same state (a rollout's step on one server,
        // a deploy on another) cannot both land; the second is retried from the first's result, or refused.
        b.Property(x => x.UpdatedAt).IsConcurrencyToken();
        b.HasMany(x => x.Versions).WithOne().HasForeignKey(v => v.EndpointId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class EndpointVersionRowConfiguration : IEntityTypeConfiguration<EndpointVersionRow>
{
    public void Configure(EntityTypeBuilder<EndpointVersionRow> b)
    {
        b.ToTable("endpoint_versions");
        b.HasIndex(x => new { x.EndpointId, x.ModelName, x.ModelVersion }).IsUnique();
    }
}

/// <summary>A gradual rollout of a new version on an endpoint, and where it stands.</summary>
public sealed class RolloutRow
{
    public long Id { get; set; }
    public required string Endpoint { get; set; }
    public required string FromName { get; set; }
    public int FromVersion { get; set; }
    public required string ToName { get; set; }
    public int ToVersion { get; set; }
    public int Canary { get; set; }
    public int Step { get; set; }
    public int IntervalSeconds { get; set; }
    public double MaxErrorRate { get; set; }
    public double? MaxP99Ms { get; set; }
    public int MinRequests { get; set; }

    /// <summary>The new version's share of the traffic now, in percent.</summary>
    public int Weight { get; set; }
    public required string Status { get; set; }
    public string? Reason { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>When the new version is judged next.</summary>
    public DateTimeOffset NextAt { get; set; }
}

internal sealed class RolloutRowConfiguration : IEntityTypeConfiguration<RolloutRow>
{
    public void Configure(EntityTypeBuilder<RolloutRow> b)
    {
        b.ToTable("rollouts");
        b.HasIndex(x => new { x.Endpoint, x.Status });
    }
}

/// <summary>
/// One file of captured requests in the blob store (JSON lines, one per row): a node writes one about once a second
/// per endpoint while requests flow, so every node's captures are read together wherever monitoring runs.
/// </summary>
public sealed class CaptureFileRow
{
    public long Id { get; set; }
    public required string Endpoint { get; set; }
    public required string Sha256 { get; set; }
    public long Size { get; set; }
    public int Rows { get; set; }

    /// <summary>When its first and last rows were answered.</summary>
    public DateTimeOffset From { get; set; }
    public DateTimeOffset To { get; set; }

    /// <summary>The node that wrote it (<see cref="Jobs.JobRunner.Me"/>).</summary>
    public required string Node { get; set; }
}

internal sealed class CaptureFileRowConfiguration : IEntityTypeConfiguration<CaptureFileRow>
{
    public void Configure(EntityTypeBuilder<CaptureFileRow> b)
    {
        b.ToTable("capture_files");
        b.Property(x => x.Sha256).HasMaxLength(64);
        b.Property(x => x.Node).HasMaxLength(300);
        b.HasIndex(x => new { x.Endpoint, x.To });
    }
}
