using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Stratus.Server.Cluster;

/// <summary>A node as it last reported itself (every <see cref="ClusterSettings.NodeReportInterval"/>): what the nodes page shows.</summary>
public sealed class NodeRow
{
    /// <summary><c>host/pid</c>, as <see cref="Jobs.JobRunner.Me"/>.</summary>
    public required string Id { get; set; }

    /// <summary><c>server</c> or <c>worker</c>.</summary>
    public required string Role { get; set; }

    public required string Host { get; set; }

    /// <summary>The API's URL (servers).</summary>
    public string? Url { get; set; }

    /// <summary>The Orleans silo's address (servers).</summary>
    public string? Silo { get; set; }

    public required string Version { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset SeenAt { get; set; }

    /// <summary>When it shut down cleanly; null while it runs or after it died.</summary>
    public DateTimeOffset? StoppedAt { get; set; }

    public int Slots { get; set; }
    public int JobsRunning { get; set; }
    public int EndpointsLoaded { get; set; }

    /// <summary>The node's and its job processes' CPU over the last report interval, in percent of one core.</summary>
    public double CpuPercent { get; set; }

    /// <summary>The node's and its job processes' resident memory.</summary>
    public long MemoryBytes { get; set; }
}

/// <summary>
/// One node's serving counters for one endpoint version and role, as of its last report: the cluster's counts are
/// the sum over nodes (a restarted node is a new node, so the sum only grows until a dead node's rows are removed).
/// </summary>
public sealed class NodeCounterRow
{
    public required string Node { get; set; }
    public required string Endpoint { get; set; }
    public required string ModelName { get; set; }
    public int ModelVersion { get; set; }
    public required string Role { get; set; }
    public long Requests { get; set; }
    public long Errors { get; set; }
    public long Rejected { get; set; }
    public long Rows { get; set; }
    public double Seconds { get; set; }

    /// <summary>The latency histogram's bucket counts, comma-separated (<see cref="Serving.ServingMetrics.Buckets"/> and +Inf).</summary>
    public required string Buckets { get; set; }

    public long Batches { get; set; }
    public long BatchRows { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

internal sealed class NodeRowConfiguration : IEntityTypeConfiguration<NodeRow>
{
    public void Configure(EntityTypeBuilder<NodeRow> b)
    {
        b.ToTable("nodes");
        b.HasKey(x => x.Id);
        b.Property(x => x.Id).HasMaxLength(300);
        b.Property(x => x.Role).HasMaxLength(20);
        b.Property(x => x.Host).HasMaxLength(255);
        b.Property(x => x.Url).HasMaxLength(500);
        b.Property(x => x.Silo).HasMaxLength(100);
        b.Property(x => x.Version).HasMaxLength(100);
    }
}

internal sealed class NodeCounterRowConfiguration : IEntityTypeConfiguration<NodeCounterRow>
{
    public void Configure(EntityTypeBuilder<NodeCounterRow> b)
    {
        b.ToTable("node_counters");
        b.HasKey(x => new { x.Node, x.Endpoint, x.ModelName, x.ModelVersion, x.Role });
        b.Property(x => x.Node).HasMaxLength(300);
        b.Property(x => x.Endpoint).HasMaxLength(200);
        b.Property(x => x.ModelName).HasMaxLength(200);
        b.Property(x => x.Role).HasMaxLength(20);
        b.Property(x => x.Buckets).HasMaxLength(1000);
        b.HasOne<NodeRow>().WithMany().HasForeignKey(x => x.Node).OnDelete(DeleteBehavior.Cascade);
    }
}
