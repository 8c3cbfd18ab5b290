using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Stratus.Server.Serving;

public sealed class EndpointRow
{
    public long Id { get; set; }
    public required string Name { get; set; }
    public required string ModelRef { get; set; }
    public required string ModelName { get; set; }
    public int ModelVersion { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

internal sealed class EndpointRowConfiguration : IEntityTypeConfiguration<EndpointRow>
{
    public void Configure(EntityTypeBuilder<EndpointRow> b)
    {
        b.ToTable("endpoints");
        b.HasIndex(x => x.Name).IsUnique();
    }
}
