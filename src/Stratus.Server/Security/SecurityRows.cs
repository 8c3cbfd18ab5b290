using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Stratus.Server.Security;

public sealed class TokenRow
{
    public long Id { get; set; }
    public required string Name { get; set; }
    public required string Role { get; set; }
    public required string Hash { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }

    /// <summary>When the secret stops working; null for tokens made before tokens expired.</summary>
    public DateTimeOffset? ExpiresAt { get; set; }

    /// <summary>The hash of the secret a rotation replaced, which works until <see cref="PreviousExpiresAt"/>.</summary>
    public string? PreviousHash { get; set; }

    public DateTimeOffset? PreviousExpiresAt { get; set; }

    /// <summary>For an <see cref="Roles.Invoke"/> token, the endpoints it may call, comma-separated.</summary>
    public string? Endpoints { get; set; }

    /// <summary>The user or service account the token belongs to (every token since users came; the migration gave each earlier token a service account of its name).</summary>
    public long? UserId { get; set; }

    public UserRow? User { get; set; }

    /// <summary>The one project the token works in (always, for an invoke token); null: every project of its user.</summary>
    public string? Project { get; set; }
}

public sealed class AuditRow
{
    public long Id { get; set; }
    public DateTimeOffset Time { get; set; }
    public required string Actor { get; set; }
    public string? Role { get; set; }
    public required string Method { get; set; }
    public required string Path { get; set; }
    public int Status { get; set; }
    public required string Outcome { get; set; }
    public string? RemoteAddress { get; set; }

    /// <summary>What was done, in words, for actions that are not plain API requests (console actions, policy decisions, automatic roll backs).</summary>
    public string? Detail { get; set; }

    /// <summary>The hash of the row before this one (<see cref="AuditChain"/>); null for the first, and for rows written before the chain.</summary>
    public string? PrevHash { get; set; }

    /// <summary>This row's hash over <see cref="PrevHash"/> and its contents (<see cref="AuditChain"/>); null for rows written before the chain.</summary>
    public string? Hash { get; set; }
}

internal sealed class SecurityRowConfiguration : IEntityTypeConfiguration<TokenRow>, IEntityTypeConfiguration<AuditRow>
{
    public void Configure(EntityTypeBuilder<TokenRow> b)
    {
        b.ToTable("tokens");
        b.HasIndex(x => x.Hash).IsUnique();
        b.HasIndex(x => x.PreviousHash);
        b.HasIndex(x => x.Name).IsUnique();
        b.HasOne(x => x.User).WithMany().HasForeignKey(x => x.UserId).OnDelete(DeleteBehavior.Restrict);
        b.Property(x => x.Project).HasMaxLength(Names.MaxLength);
    }

    public void Configure(EntityTypeBuilder<AuditRow> b)
    {
        b.ToTable("audit_log");
        b.HasIndex(x => x.Time);
        b.Property(x => x.PrevHash).HasMaxLength(64);
        b.Property(x => x.Hash).HasMaxLength(64);
    }
}
