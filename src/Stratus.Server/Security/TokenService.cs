using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using Stratus.Server.Kernel;
using Stratus.Server.Storage;

namespace Stratus.Server.Security;

/// <summary>The identity a valid token stands for.</summary>
/// <param name="Name">The user or service account the token belongs to (for a token older than users, the token's name).</param>
/// <param name="Endpoints">An invoke token's endpoints (null for a role's token).</param>
/// <param name="Token">The token's own name.</param>
/// <param name="Memberships">The user's projects and its role in each.</param>
/// <param name="Project">The one project the token is limited to, if any.</param>
public sealed record Principal(long TokenId, string Name, string Role, IReadOnlyList<string>? Endpoints = null, string? Token = null,
    IReadOnlyDictionary<string, string>? Memberships = null, string? Project = null);

/// <summary>
/// Creates, checks, rotates and revokes API tokens. Only SHA-256 hashes of tokens are stored. Every token expires
/// (<see cref="SecuritySettings.TokenLifetime"/>, at most <see cref="SecuritySettings.MaxTokenLifetime"/>); a rotation
/// gives a token a new secret while the old one works until it would have expired, so that its users can switch with no gap.
/// Every token belongs to a user or service account (<see cref="UserRow"/>): its calls are recorded under that name, and a
/// disabled one's tokens stop working.
/// </summary>
public sealed class TokenService(StratusDb db, IMemoryCache cache, TimeProvider clock, SecuritySettings settings, ProjectScope scope, ProjectService projects)
{
    private const string Prefix = "stratus_";

    /// <summary>
    /// Creates a token for the request's user; without one, for a service account of the token's name, made with it
    /// (of <paramref name="kind"/>) as a member of the request's project with the token's role. An invoke token, and one
    /// asked to be (<see cref="CreateTokenRequest.ProjectOnly"/>), works in the request's project only. The secret is
    /// returned this once and never stored.
    /// </summary>
    public async Task<CreatedToken> CreateAsync(CreateTokenRequest request, string actor, CancellationToken ct, string kind = UserKinds.Service)
    {
        var (name, role, expiresInDays, endpoints) = (request.Name, request.Role, request.ExpiresInDays, request.Endpoints);
        ProblemException.CheckName("name", name);
        if (Roles.Rank(role) == 0 && role != Roles.Invoke)
            throw ProblemException.Invalid("role", $"'{role}' is not a role; use one of {string.Join(", ", Roles.All)}, or {Roles.Invoke} with endpoints");
        // An invoke token names its endpoints (they need not exist yet: an application's token may come first).
        if (role == Roles.Invoke && endpoints is not { Count: > 0 })
            throw ProblemException.Invalid("endpoints", "an invoke token names the endpoints it may call");
        if (role != Roles.Invoke && endpoints is { Count: > 0 })
            throw ProblemException.Invalid("endpoints", $"only an {Roles.Invoke} token names endpoints; a {role} token reaches every endpoint its role allows");
        foreach (var endpoint in endpoints ?? []) ProblemException.CheckName("endpoints", endpoint);
        var lifetime = expiresInDays is { } days ? TimeSpan.FromDays(days) : settings.TokenLifetime;
        if (expiresInDays is < 1 || lifetime > settings.MaxTokenLifetime)
            throw ProblemException.Invalid("expires_in_days", $"is {expiresInDays}; a token lives from 1 day to {settings.MaxTokenLifetime.TotalDays:0} days (the server's MaxTokenLifetime)");
        if (await db.Tokens.AnyAsync(t => t.Name == name, ct)) throw ProblemException.Conflict($"a token named '{name}' already exists");
        var now = Now();
        var project = scope.Name ?? Projects.Default;
        UserRow owner;
        if (request.User is { } user)
        {
            owner = await db.Users.FirstOrDefaultAsync(u => u.Name == user, ct)
                ?? throw ProblemException.Invalid("user", $"no user or service account is named '{user}' (stratus users create {user})");
            if (owner.DisabledAt is not null) throw ProblemException.Conflict($"'{user}' is disabled: it gets no new token");
            if (role == Roles.Admin && !owner.Admin)
                throw ProblemException.Invalid("role", $"'{user}' is not an admin: its tokens may be {Roles.Viewer}, {Roles.Editor} or {Roles.Invoke} tokens");
            // A token limited to a project its user is not in would work nowhere.
            if (request.ProjectOnly && role is Roles.Viewer or Roles.Editor && !await db.ProjectMembers.AnyAsync(m => m.UserId == owner.Id && db.Projects.Any(p => p.Id == m.ProjectId && p.Name == project), ct))
                throw ProblemException.Invalid("project_only", $"'{user}' is not a member of project '{project}' (stratus projects members add {project} {user})");
        }
        else
        {
            if (await db.Users.AnyAsync(u => u.Name == name, ct))
                throw ProblemException.Conflict($"'{name}' is a user or service account: give its token a name of its own and the user (stratus tokens create NAME --user {name})");
            owner = new UserRow { Name = name, Kind = kind, Admin = role == Roles.Admin, CreatedAt = now, CreatedBy = actor };
            db.Users.Add(owner);
            if (role is Roles.Viewer or Roles.Editor) await projects.JoinAsync(project, owner, role, actor, ct);
        }
        var (secret, hash) = NewSecret();
        var row = new TokenRow
        {
            Name = name, Role = role, Hash = hash, CreatedAt = now, ExpiresAt = now + lifetime, User = owner,
            Endpoints = endpoints is { Count: > 0 } ? string.Join(',', endpoints.Distinct(StringComparer.Ordinal)) : null,
            Project = request.ProjectOnly || role == Roles.Invoke ? project : null,
        };
        db.Tokens.Add(row);
        await db.SaveChangesAsync(ct);
        return new CreatedToken(ToInfo(row), secret);
    }

    /// <summary>
    /// Gives a live token a new secret (returned this once) that lives <see cref="SecuritySettings.TokenLifetime"/>; the
    /// secret it replaces works until it would have expired. A second rotation ends the first one's old secret at once.
    /// </summary>
    public async Task<CreatedToken> RotateAsync(long id, CancellationToken ct)
    {
        var row = await db.Tokens.Include(t => t.User).FirstOrDefaultAsync(t => t.Id == id, ct) ?? throw ProblemException.NotFound($"token {id}");
        var now = Now();
        if (row.RevokedAt is not null || row.ExpiresAt <= now || row.User?.DisabledAt is not null)
            throw ProblemException.Conflict($"token {id} is {(row.RevokedAt is not null ? "revoked" : row.User?.DisabledAt is not null ? $"of '{row.User.Name}', who is disabled" : "expired")}: create a new one");
        if (row.PreviousHash is not null) Forget(cache, row.PreviousHash);
        var (secret, hash) = NewSecret();
        (row.PreviousHash, row.PreviousExpiresAt) = (row.Hash, row.ExpiresAt ?? now + settings.TokenLifetime);
        (row.Hash, row.ExpiresAt) = (hash, now + settings.TokenLifetime);
        await db.SaveChangesAsync(ct);
        return new CreatedToken(ToInfo(row), secret);
    }

    // To the millisecond, as the database keeps times: what a call answers is what a later read shows.
    private DateTimeOffset Now() => DateTimeOffset.FromUnixTimeMilliseconds(clock.GetUtcNow().ToUnixTimeMilliseconds());

    private static (string Secret, string Hash) NewSecret()
    {
        var secret = Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return (secret, Hash(secret));
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
        var now = clock.GetUtcNow();
        DateTimeOffset? expires = null;
        try
        {
            // The current secret, or the one a rotation replaced while it still works, of a user not disabled.
            row = await db.Tokens.AsNoTracking().Include(t => t.User).FirstOrDefaultAsync(t => t.RevokedAt == null && (t.User == null || t.User.DisabledAt == null)
                && ((t.Hash == hash && (t.ExpiresAt == null || t.ExpiresAt > now)) || (t.PreviousHash == hash && t.PreviousExpiresAt > now)), ct);
            if (row is not null)
            {
                expires = row.Hash == hash ? row.ExpiresAt : row.PreviousExpiresAt;
                await db.Tokens.Where(t => t.Id == row.Id).ExecuteUpdateAsync(s => s.SetProperty(t => t.LastUsedAt, now), ct);
            }
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
        var memberships = row.UserId is { } userId
            ? await db.ProjectMembers.AsNoTracking().Where(m => m.UserId == userId)
                .Join(db.Projects, m => m.ProjectId, p => p.Id, (m, p) => new { p.Name, m.Role }).ToDictionaryAsync(m => m.Name, m => m.Role, ct)
            : [];
        var principal = new Principal(row.Id, row.User?.Name ?? row.Name, row.Role, EndpointsOf(row), row.Name, memberships, row.Project);
        // Cached briefly, and never past the moment the secret expires.
        var left = expires is { } at ? at - now : TimeSpan.MaxValue;
        cache.Set(hash, principal, left < TimeSpan.FromSeconds(5) ? left : TimeSpan.FromSeconds(5));
        cache.Set(LastKnown(hash), principal, left < TimeSpan.FromHours(1) ? left : TimeSpan.FromHours(1));
        return principal;
    }

    public async Task<Page<TokenInfo>> ListAsync(int? pageSize, string? pageToken, CancellationToken ct)
    {
        var (offset, size) = Paging.Parse(pageSize, pageToken);
        var rows = await db.Tokens.AsNoTracking().Include(t => t.User).OrderBy(t => t.Id).Skip(offset).Take(size + 1).ToListAsync(ct);
        return Paging.Build(rows.ConvertAll(ToInfo), offset, size);
    }

    /// <summary>
    /// Whether a token is still live (not revoked), for sessions that were opened with it (the web console's); cached
    /// like authentication, so that a page's requests cost no query each.
    /// </summary>
    public async Task<bool> IsLiveAsync(long id, CancellationToken ct)
    {
        if (cache.TryGetValue(LiveKey(id), out bool live)) return live;
        var now = clock.GetUtcNow();
        live = await db.Tokens.AsNoTracking().AnyAsync(t => t.Id == id && t.RevokedAt == null && (t.User == null || t.User.DisabledAt == null) && (t.ExpiresAt == null || t.ExpiresAt > now || t.PreviousExpiresAt > now), ct);
        cache.Set(LiveKey(id), live, TimeSpan.FromSeconds(5));
        return live;
    }

    private static (string, long) LiveKey(long id) => ("token-live", id);

    private static (string, string) LastKnown(string hash) => ("token-last-known", hash);

    /// <summary>Revokes a token; it stops working within the cache lifetime (5 seconds) everywhere, at once on this node.</summary>
    public async Task<TokenInfo> RevokeAsync(long id, CancellationToken ct)
    {
        var row = await db.Tokens.Include(t => t.User).FirstOrDefaultAsync(t => t.Id == id, ct) ?? throw ProblemException.NotFound($"token {id}");
        // The platform must keep a way in: the last live admin token goes only once another admin token works (an
        // expired one, or a disabled user's, does not).
        var now = clock.GetUtcNow();
        if (row.RevokedAt is null && row.Role == Roles.Admin && !await LiveAdmins(db, now).AnyAsync(t => t.Id != id, ct))
            throw ProblemException.Conflict($"token {id} is the last admin token: create another admin token first (stratus tokens create NAME --role admin)");
        row.RevokedAt ??= clock.GetUtcNow();
        await db.SaveChangesAsync(ct);
        Forget(cache, row);
        return ToInfo(row);
    }

    /// <summary>The admin tokens that work now (not revoked, not expired, of a user not disabled).</summary>
    internal static IQueryable<TokenRow> LiveAdmins(StratusDb db, DateTimeOffset now) =>
        db.Tokens.Where(t => t.Role == Roles.Admin && t.RevokedAt == null && (t.User == null || t.User.DisabledAt == null)
            && (t.ExpiresAt == null || t.ExpiresAt > now || t.PreviousExpiresAt > now));

    /// <summary>Drops what this node cached of a token (both its secrets, and whether it is live): its next use is looked up.</summary>
    internal static void Forget(IMemoryCache cache, TokenRow row)
    {
        Forget(cache, row.Hash);
        if (row.PreviousHash is not null) Forget(cache, row.PreviousHash);
        cache.Remove(LiveKey(row.Id));
    }

    /// <summary>
    /// Drops what this node cached of the users' tokens (disabled, or their memberships changed, which their claims
    /// carry): their next request is looked up; other nodes see it within the cache's 5 seconds.
    /// </summary>
    internal static async Task ForgetUsersAsync(StratusDb db, IMemoryCache cache, IReadOnlyList<long> users, CancellationToken ct)
    {
        foreach (var token in await db.Tokens.AsNoTracking().Where(t => t.UserId != null && users.Contains(t.UserId.Value)).ToListAsync(ct)) Forget(cache, token);
    }

    private static void Forget(IMemoryCache cache, string hash)
    {
        cache.Remove(hash);
        cache.Remove(LastKnown(hash));
    }

    /// <summary>
    /// On first start (no tokens at all) creates the admin token and writes it to <c>admin.token</c> with mode 0600; so
    /// does a start that finds no admin token still working (all expired): whoever holds the data directory keeps a way in.
    /// </summary>
    public async Task<string?> BootstrapAdminAsync(string dataDir, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var first = !await db.Tokens.AnyAsync(ct);
        if (!first && await LiveAdmins(db, now).AnyAsync(ct)) return null;
        CreatedToken created;
        try
        {
            // The first token makes the admin user; a later one belongs to it while it may hold one, else to a new admin of its name.
            var admin = first ? null : await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Name == "admin" && u.Admin && u.DisabledAt == null, ct);
            created = await CreateAsync(new CreateTokenRequest(first ? "admin" : $"admin-{now:yyyyMMdd-HHmmss}", Roles.Admin, User: admin?.Name), "stratus", ct, UserKinds.User);
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

    private static TokenInfo ToInfo(TokenRow r) =>
        new(r.Id, r.Name, r.Role, r.CreatedAt, r.RevokedAt, r.LastUsedAt, r.ExpiresAt, r.PreviousHash is null ? null : r.PreviousExpiresAt, EndpointsOf(r), r.User?.Name, r.Project);

    private static IReadOnlyList<string>? EndpointsOf(TokenRow r) => r.Endpoints?.Split(',');
}
