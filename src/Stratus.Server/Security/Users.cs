using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.Extensions.Caching.Memory;
using Stratus.Server.Kernel;
using Stratus.Server.Storage;

namespace Stratus.Server.Security;

/// <summary>A person or a program that owns tokens; what its tokens do is recorded under its name.</summary>
public sealed class UserRow
{
    public long Id { get; set; }
    public required string Name { get; set; }

    /// <summary><see cref="UserKinds.User"/> or <see cref="UserKinds.Service"/>.</summary>
    public required string Kind { get; set; }

    /// <summary>Whether its tokens may be admin tokens.</summary>
    public bool Admin { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public required string CreatedBy { get; set; }

    /// <summary>When it was disabled: its tokens stopped working, and it gets no new one.</summary>
    public DateTimeOffset? DisabledAt { get; set; }
}

internal sealed class UserRowConfiguration : IEntityTypeConfiguration<UserRow>
{
    public void Configure(EntityTypeBuilder<UserRow> b)
    {
        b.ToTable("users");
        b.HasIndex(x => x.Name).IsUnique();
        b.Property(x => x.Name).HasMaxLength(Names.MaxLength);
        b.Property(x => x.Kind).HasMaxLength(16);
        b.Property(x => x.CreatedBy).HasMaxLength(200);
    }
}

/// <summary>
/// Users and service accounts (admin): made, listed and disabled. A disabled one keeps its name and its record in the
/// audit log, and its tokens stop working at once on this node and within the token cache's lifetime (5 seconds) on others.
/// </summary>
public sealed class UserService(StratusDb db, IMemoryCache cache, TimeProvider clock)
{
    public async Task<UserInfo> CreateAsync(CreateUserRequest request, string actor, CancellationToken ct)
    {
        ProblemException.CheckName("name", request.Name);
        var kind = request.Kind ?? UserKinds.User;
        if (!UserKinds.All.Contains(kind)) throw ProblemException.Invalid("kind", $"'{kind}' is not a kind of user; use {string.Join(" or ", UserKinds.All)}");
        if (await db.Users.AnyAsync(u => u.Name == request.Name, ct)) throw ProblemException.Conflict($"a user or service account named '{request.Name}' already exists");
        var row = new UserRow { Name = request.Name, Kind = kind, Admin = request.Admin, CreatedAt = clock.GetUtcNow(), CreatedBy = actor };
        db.Users.Add(row);
        await db.SaveChangesAsync(ct);
        return Info(row, 0);
    }

    public async Task<IReadOnlyList<UserInfo>> ListAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var rows = await db.Users.AsNoTracking().OrderBy(u => u.Name)
            .Select(u => new { User = u, Tokens = u.DisabledAt != null ? 0 : db.Tokens.Count(t => t.UserId == u.Id && t.RevokedAt == null && (t.ExpiresAt == null || t.ExpiresAt > now)) })
            .ToListAsync(ct);
        return [.. rows.Select(r => Info(r.User, r.Tokens))];
    }

    /// <summary>
    /// Disables a user or service account: its tokens stop working (they are kept, as are its name and its record).
    /// The one holding the last live admin token is refused: the platform keeps a way in.
    /// </summary>
    public async Task<UserInfo> DisableAsync(string name, CancellationToken ct)
    {
        var row = await db.Users.FirstOrDefaultAsync(u => u.Name == name, ct) ?? throw ProblemException.NotFound($"user '{name}'");
        var now = clock.GetUtcNow();
        if (row.DisabledAt is null)
        {
            var admins = TokenService.LiveAdmins(db, now);
            if (await admins.AnyAsync(t => t.UserId == row.Id, ct) && !await admins.AnyAsync(t => t.UserId != row.Id, ct))
                throw ProblemException.Conflict($"'{name}' holds the last live admin token: make another admin's token first (stratus tokens create NAME --role admin)");
            row.DisabledAt = now;
            await db.SaveChangesAsync(ct);
        }
        await TokenService.ForgetUsersAsync(db, cache, [row.Id], ct);
        return Info(row, 0);
    }

    private static UserInfo Info(UserRow row, int tokens) => new(row.Name, row.Kind, row.Admin, row.CreatedAt, row.CreatedBy, tokens, row.DisabledAt);
}
