using Stratus.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Stratus.Server.Datasets;

public sealed class DatasetRow : Security.IProjectOwned
{
    /// <inheritdoc/>
    public string Project { get; set; } = "";

    public long Id { get; set; }
    public required string Name { get; set; }
    public string? Description { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? DeletedAt { get; set; }
    public List<DatasetVersionRow> Versions { get; set; } = [];
}

public sealed class DatasetVersionRow
{
    public long Id { get; set; }
    public long DatasetId { get; set; }
    public DatasetRow Dataset { get; set; } = null!;
    public int Version { get; set; }
    public required string SourceSha256 { get; set; }
    public required string ParquetSha256 { get; set; }
    public long SizeBytes { get; set; }
    public long Rows { get; set; }
    public required string SourceFormat { get; set; }
    public required string ColumnsJson { get; set; }
    [Sealed]
    public required string ProfileJson { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public string? CreatedBy { get; set; }

    /// <summary>The run that produced this version (batch inference), when one did.</summary>
    public string? RunId { get; set; }
    public DateTimeOffset? DeletedAt { get; set; }
}

internal sealed class DatasetRowConfiguration : IEntityTypeConfiguration<DatasetRow>, IEntityTypeConfiguration<DatasetVersionRow>
{
    public void Configure(EntityTypeBuilder<DatasetRow> b)
    {
        b.ToTable("datasets");
        b.HasIndex(x => new { x.Project, x.Name }).IsUnique();
        b.Property(x => x.Name).HasMaxLength(Names.MaxLength);
    }

    public void Configure(EntityTypeBuilder<DatasetVersionRow> b)
    {
        b.ToTable("dataset_versions");
        b.HasIndex(x => new { x.DatasetId, x.Version }).IsUnique();
        b.HasIndex(x => new { x.DatasetId, x.SourceSha256 });
        b.HasIndex(x => x.ParquetSha256);
        b.HasOne(x => x.Dataset).WithMany(d => d.Versions).HasForeignKey(x => x.DatasetId);
    }
}
