using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Stratus.Server.Kernel;
using Stratus.Server.Storage;

namespace Stratus.Server.Security;

/// <summary>A named secret (a webhook URL, a credential): its value sealed at rest, never returned by any route.</summary>
public sealed class SecretRow
{
    public required string Name { get; set; }

    [Sealed]
    public required string Value { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public required string UpdatedBy { get; set; }
}

internal sealed class SecretRowConfiguration : IEntityTypeConfiguration<SecretRow>
{
    public void Configure(EntityTypeBuilder<SecretRow> b)
    {
        b.ToTable("secrets");
        b.HasKey(x => x.Name);
        b.Property(x => x.Name).HasMaxLength(Names.MaxLength);
        b.Property(x => x.UpdatedBy).HasMaxLength(200);
    }
}

/// <summary>
/// Secrets by name: set and deleted by admins, listed without their values, and used by what names them
/// (<c>secret:NAME</c> where a setting takes one, such as a policy's webhooks). Each use is an audit row.
/// </summary>
public sealed class SecretService(StratusDb db, TimeProvider clock)
{
    /// <summary>How a setting names a secret instead of holding its value.</summary>
    public const string Prefix = "secret:";

    /// <summary>The longest value a secret may hold.</summary>
    public const int MaxValueLength = 16 * 1024;

    /// <summary>The secret's name when <paramref name="text"/> names one (<c>secret:NAME</c>), else null.</summary>
    public static string? Reference(string text) => text.StartsWith(Prefix, StringComparison.Ordinal) ? text[Prefix.Length..] : null;

    public async Task<SecretInfo> SetAsync(string name, string? value, string actor, CancellationToken ct)
    {
        ProblemException.CheckName("name", name);
        if (string.IsNullOrEmpty(value)) throw ProblemException.Invalid("value", "is empty; a secret needs a value");
        if (value.Length > MaxValueLength) throw ProblemException.Invalid("value", $"is {value.Length:N0} characters; a secret holds at most {MaxValueLength:N0}");
        var now = clock.GetUtcNow();
        var row = await db.Secrets.FirstOrDefaultAsync(s => s.Name == name, ct);
        if (row is null)
        {
            row = new SecretRow { Name = name, Value = value, CreatedAt = now, UpdatedAt = now, UpdatedBy = actor };
            db.Secrets.Add(row);
        }
        else
        {
            (row.Value, row.UpdatedAt, row.UpdatedBy) = (value, now, actor);
        }
        await db.SaveChangesAsync(ct);
        return Info(row);
    }

    public async Task<IReadOnlyList<SecretInfo>> ListAsync(CancellationToken ct) =>
        [.. (await db.Secrets.AsNoTracking().OrderBy(s => s.Name).Select(s => new { s.Name, s.CreatedAt, s.UpdatedAt, s.UpdatedBy }).ToListAsync(ct))
            .Select(s => new SecretInfo(s.Name, s.CreatedAt, s.UpdatedAt, s.UpdatedBy))];

    public async Task<SecretInfo> DeleteAsync(string name, CancellationToken ct)
    {
        var row = await db.Secrets.FirstOrDefaultAsync(s => s.Name == name, ct) ?? throw ProblemException.NotFound($"secret '{name}'");
        db.Secrets.Remove(row);
        await db.SaveChangesAsync(ct);
        return Info(row);
    }

    /// <summary>Refuses (400, naming <paramref name="field"/>) a reference to a secret that does not exist.</summary>
    public async Task RequireAsync(string field, string name, CancellationToken ct)
    {
        if (!await db.Secrets.AnyAsync(s => s.Name == name, ct)) throw ProblemException.Invalid(field, $"names secret '{name}', which does not exist (stratus secrets set {name})");
    }

    /// <summary>
    /// A secret's value for a use the audit log records (who used it, for what); null when it does not exist. The audit
    /// row is added to the caller's unit of work and written with it (a policy's decision and its deliveries), not
    /// saved here halfway through.
    /// </summary>
    public async Task<string?> UseAsync(string name, string actor, string purpose, CancellationToken ct)
    {
        var value = await db.Secrets.AsNoTracking().Where(s => s.Name == name).Select(s => s.Value).FirstOrDefaultAsync(ct);
        db.Audit.Add(new AuditRow
        {
            Time = clock.GetUtcNow(), Actor = actor, Method = "USE", Path = $"/api/v1/secrets/{name}", Status = value is null ? 404 : 200,
            Outcome = value is null ? "error" : "ok", Detail = $"secret '{name}' {(value is null ? "missing" : "used")} for {purpose}",
        });
        return value;
    }

    private static SecretInfo Info(SecretRow row) => new(row.Name, row.CreatedAt, row.UpdatedAt, row.UpdatedBy);
}
