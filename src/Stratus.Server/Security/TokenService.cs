using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using Stratus.Server.Kernel;
using Stratus.Server.Storage;

namespace Stratus.Server.Security;

/// <summary>The identity a valid token stands for.</summary>
public sealed record Principal(long TokenId, string Name, string Role);

/// <summary>Creates, checks and revokes API tokens. Only SHA-256 hashes of tokens are stored.</summary>
public sealed class TokenService(StratusDb db, IMemoryCache cache, TimeProvider clock)
{
    private const string Prefix = "stratus_";

    /// <summary>Creates a token; the secret is returned this once and never stored.</summary>
    public async Task<CreatedToken> CreateAsync(string name, string role, CancellationToken ct)
    {
        ProblemException.CheckName("name", name);
        if (Roles.Rank(role) == 0) throw ProblemException.Invalid("role", $"'{role}' is not a role; use one of {string.Join(", ", Roles.All)}");
        if (await db.Tokens.AnyAsync(t => t.Name == name, ct)) throw ProblemException.Conflict($"a token named '{name}' already exists");
        var secret = Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var row = new TokenRow { Name = name, Role = role, Hash = Hash(secret), CreatedAt = clock.GetUtcNow() };
        db.Tokens.Add(row);
        await db.SaveChangesAsync(ct);
        return new CreatedToken(ToInfo(row), secret);
    }

    /// <summary>The principal of a token authenticated within the cache lifetime, found without a database context.</summary>
    internal static bool TryGetCached(IMemoryCache cache, string secret, out Principal? principal)
    {
        principal = null;
        return secret.StartsWith(Prefix, StringComparison.Ordinal) && secret.Length <= 128 && cache.TryGetValue(Hash(secret), out principal);
    }

    /// <summary>Finds the live token a request presented; cached briefly so that authentication costs no query per request.</summary>
    public async Task<Principal?> AuthenticateAsync(string secret, CancellationToken ct)
    {
        if (!secret.StartsWith(Prefix, StringComparison.Ordinal) || secret.Length > 128) return null;
        var hash = Hash(secret);
        if (cache.TryGetValue(hash, out Principal? cached)) return cached;
        TokenRow? row;
        try
        {
            row = await db.Tokens.AsNoTracking().FirstOrDefaultAsync(t => t.Hash == hash && t.RevokedAt == null, ct);
            if (row is not null) await db.Tokens.Where(t => t.Id == row.Id).ExecuteUpdateAsync(s => s.SetProperty(t => t.LastUsedAt, clock.GetUtcNow()), ct);
        }
        catch (Exception ex) when (MetadataDatabase.IsUnavailable(ex) && cache.TryGetValue(LastKnown(hash), out Principal? known))
        {
            // The database is down: a token this node saw live in the last hour still calls what needs no database
            // (loaded endpoints answer); everything else answers 503 on its own query.
            return known;
        }
        if (row is null)
        {
            cache.Remove(LastKnown(hash));
            return null;
        }
        var principal = new Principal(row.Id, row.Name, row.Role);
        cache.Set(hash, principal, TimeSpan.FromSeconds(5));
        cache.Set(LastKnown(hash), principal, TimeSpan.FromHours(1));
        return principal;
    }

    public async Task<Page<TokenInfo>> ListAsync(int? pageSize, string? pageToken, CancellationToken ct)
    {
        var (offset, size) = Paging.Parse(pageSize, pageToken);
        var rows = await db.Tokens.AsNoTracking().OrderBy(t => t.Id).Skip(offset).Take(size + 1).ToListAsync(ct);
        return Paging.Build(rows.ConvertAll(ToInfo), offset, size);
    }

    /// <summary>
    /// Whether a token is still live (not revoked), for sessions that were opened with it (the web console's); cached
    /// like authentication, so that a page's requests cost no query each.
    /// </summary>
    public async Task<bool> IsLiveAsync(long id, CancellationToken ct)
    {
        if (cache.TryGetValue(LiveKey(id), out bool live)) return live;
        live = await db.Tokens.AsNoTracking().AnyAsync(t => t.Id == id && t.RevokedAt == null, ct);
        cache.Set(LiveKey(id), live, TimeSpan.FromSeconds(5));
        return live;
    }

    private static (string, long) LiveKey(long id) => ("token-live", id);

    private static (string, string) LastKnown(string hash) => ("token-last-known", hash);

    /// <summary>Revokes a token; it stops working within the cache lifetime (5 seconds) everywhere, at once on this node.</summary>
    public async Task<TokenInfo> RevokeAsync(long id, CancellationToken ct)
    {
        var row = await db.Tokens.FirstOrDefaultAsync(t => t.Id == id, ct) ?? throw ProblemException.NotFound($"token {id}");
        // The platform must keep a way in: the last live admin token goes only once another admin token exists.
        if (row.RevokedAt is null && row.Role == Roles.Admin && !await db.Tokens.AnyAsync(t => t.Id != id && t.Role == Roles.Admin && t.RevokedAt == null, ct))
            throw ProblemException.Conflict($"token {id} is the last admin token: create another admin token first (stratus tokens create NAME --role admin)");
        row.RevokedAt ??= clock.GetUtcNow();
        await db.SaveChangesAsync(ct);
        cache.Remove(row.Hash);
        cache.Remove(LastKnown(row.Hash));
        cache.Remove(LiveKey(id));
        return ToInfo(row);
    }

    /// <summary>On first start (no tokens at all) creates the admin token and writes it to <c>admin.token</c> with mode 0600.</summary>
    public async Task<string?> BootstrapAdminAsync(string dataDir, CancellationToken ct)
    {
        if (await db.Tokens.AnyAsync(ct)) return null;
        CreatedToken created;
        try
        {
            created = await CreateAsync("admin", Roles.Admin, ct);
        }
        catch (Exception ex) when (ex is DbUpdateException or ProblemException { Status: 409 })
        {
            // Another node starting on the same empty database made it first (found by the name check, or by the
            // unique name when both checked at once): that one is the admin token, in that node's data directory.
            db.ChangeTracker.Clear();
            if (await db.Tokens.AnyAsync(t => t.Name == "admin", ct)) return null;
            throw;
        }
        var path = Path.Combine(dataDir, "admin.token");
        SecretFile.Write(path, created.Token + "\n");
        return created.Token;
    }

    internal static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static TokenInfo ToInfo(TokenRow r) => new(r.Id, r.Name, r.Role, r.CreatedAt, r.RevokedAt, r.LastUsedAt);
}
