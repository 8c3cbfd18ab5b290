using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Stratus.Server.Registry;

public sealed class ModelRow : Security.IProjectOwned
{
    /// <inheritdoc/>
    public string Project { get; set; } = "";

    public long Id { get; set; }
    public required string Name { get; set; }
    public string? Description { get; set; }
    public string TagsJson { get; set; } = "{}";
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class ModelVersionRow
{
    public long Id { get; set; }
    public long ModelId { get; set; }
    public int Version { get; set; }
    public required string RunId { get; set; }
    public required string ArtifactPath { get; set; }
    public required string Sha256 { get; set; }
    public long Size { get; set; }
    public string? Description { get; set; }
    public string TagsJson { get; set; } = "{}";
    public DateTimeOffset CreatedAt { get; set; }
    public string? CreatedBy { get; set; }
}

public sealed class ModelAliasRow
{
    public long ModelId { get; set; }
    public required string Alias { get; set; }
    public int Version { get; set; }
}

/// <summary>An alias moved (or removed, with no version): the history a roll back reads.</summary>
public sealed class ModelAliasEventRow
{
    public long Id { get; set; }
    public long ModelId { get; set; }
    public required string Alias { get; set; }
    public int? Version { get; set; }
    public DateTimeOffset Time { get; set; }
    public string? Actor { get; set; }
}

internal sealed class RegistryRowConfiguration :
    IEntityTypeConfiguration<ModelRow>, IEntityTypeConfiguration<ModelVersionRow>, IEntityTypeConfiguration<ModelAliasRow>, IEntityTypeConfiguration<ModelAliasEventRow>
{
    public void Configure(EntityTypeBuilder<ModelRow> b)
    {
        b.ToTable("models");
        b.HasIndex(x => new { x.Project, x.Name }).IsUnique();
    }

    public void Configure(EntityTypeBuilder<ModelVersionRow> b)
    {
        b.ToTable("model_versions");
        b.HasIndex(x => new { x.ModelId, x.Version }).IsUnique();
        b.HasIndex(x => x.Sha256);
    }

    public void Configure(EntityTypeBuilder<ModelAliasRow> b)
    {
        b.ToTable("model_aliases");
        b.HasKey(x => new { x.ModelId, x.Alias });
    }

    public void Configure(EntityTypeBuilder<ModelAliasEventRow> b)
    {
        b.ToTable("model_alias_events");
        b.HasIndex(x => new { x.ModelId, x.Alias, x.Id });
    }
}
