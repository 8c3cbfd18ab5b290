using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Stratus.Server.Serving;

/// <summary>An endpoint; <see cref="ModelRef"/> and the model columns name its main version (the largest share of the traffic).</summary>
public sealed class EndpointRow
{
    public long Id { get; set; }
    public required string Name { get; set; }
    public required string ModelRef { get; set; }
    public required string ModelName { get; set; }
    public int ModelVersion { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public List<EndpointVersionRow> Versions { get; set; } = [];
}

/// <summary>A model version behind an endpoint: its share of the requests in percent, or a shadow (weight 0).</summary>
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
