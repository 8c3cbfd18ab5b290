using System.Security.Claims;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Stratus.Server.Kernel;
using Stratus.Server.Storage;

namespace Stratus.Server.Security;

/// <summary>Routes of <c>/api/v1/tokens</c>, <c>/api/v1/users</c>, <c>/api/v1/secrets</c>, <c>/api/v1/audit</c>, <c>/api/v1/whoami</c> and storage maintenance.</summary>
public static class SecurityApi
{
    /// <summary>
    /// The security capability's services: tokens, the failed-authentication limiter, and authentication (API routes
    /// take bearer tokens only, so that a browser's cookie never authorizes an API call: no CSRF; the web console signs
    /// in with a token once and then holds a cookie, whose keys are kept in <paramref name="dataDir"/>).
    /// </summary>
    public static void AddStratusSecurity(this IServiceCollection services, string dataDir)
    {
        services.AddScoped<TokenService>();
        services.AddScoped<UserService>();
        services.AddScoped<ProjectService>();
        services.AddScoped<SecretService>();
        services.AddSingleton<AuthFailures>();
        services.AddAuthentication(WebConsole.ConsoleAuth.SelectorScheme)
            .AddPolicyScheme(WebConsole.ConsoleAuth.SelectorScheme, null, o => o.ForwardDefaultSelector = WebConsole.ConsoleAuth.SchemeFor)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, BearerTokenHandler>(BearerTokenHandler.SchemeName, null)
            .AddCookie(WebConsole.ConsoleAuth.CookieScheme, WebConsole.ConsoleAuth.Configure);
        services.AddDataProtection().PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(dataDir, "keys")));
        // The cookie keys sealed like the metadata's sensitive columns (under the database's key, which rotation re-wraps).
        services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(sp => new ConfigureOptions<KeyManagementOptions>(o =>
        {
            if (sp.GetRequiredService<StorageSettings>().EncryptAtRest) o.XmlEncryptor = new SealedXmlEncryptor(sp.GetRequiredService<ColumnSealer>());
        }));
        services.AddAuthorization(Policies.Add);
    }

    public static void MapSecurityApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/api/v1/whoami", WhoAmI).WithTags("Security").WithName("WhoAmI")
            .WithSummary("The identity and role of the presented token, and its role in the project the request names").WithMetadata(AcrossProjects.Instance);

        // Projects name themselves in the path; the routes answer for the caller's own token, not a project's role.
        var projects = routes.MapGroup("/api/v1/projects").WithTags("Security").WithMetadata(AcrossProjects.Instance);
        projects.MapPost("/", async (CreateProjectRequest request, ProjectService s, ClaimsPrincipal user, CancellationToken ct) =>
            TypedResults.Created($"/api/v1/projects/{request.Name}", await s.CreateAsync(request, user, ct)))
            .RequireAuthorization(Policies.Editor).WithName("CreateProject").WithSummary("Create a project; its maker becomes its owner");
        projects.MapGet("/", (ProjectService s, ClaimsPrincipal user, CancellationToken ct) => s.ListAsync(user, ct))
            .WithName("ListProjects").WithSummary("The projects the caller may see (an admin: all), with its role in each");
        projects.MapGet("/{name}/members", (string name, ProjectService s, ClaimsPrincipal user, CancellationToken ct) => s.MembersAsync(name, user, ct))
            .WithName("ListProjectMembers").WithSummary("A project's members and their roles");
        projects.MapPut("/{name}/members/{member}", (string name, string member, SetMemberRequest request, ProjectService s, ClaimsPrincipal user, CancellationToken ct) =>
            s.SetMemberAsync(name, member, request, user, ct))
            .RequireAuthorization(Policies.Editor).WithName("SetProjectMember").WithSummary("Add a member to a project or change its role (an owner or an admin)");
        projects.MapDelete("/{name}/members/{member}", async (string name, string member, ProjectService s, ClaimsPrincipal user, CancellationToken ct) =>
        {
            await s.RemoveMemberAsync(name, member, user, ct);
            return TypedResults.NoContent();
        }).RequireAuthorization(Policies.Editor).WithName("RemoveProjectMember").WithSummary("Remove a member from a project (an owner or an admin)");
        projects.MapPost("/{name}/grants", (string name, GrantRequest request, ProjectService s, ClaimsPrincipal user, CancellationToken ct) => s.GrantAsync(name, request, user, ct))
            .RequireAuthorization(Policies.Editor).WithName("GrantProjectResource")
            .WithSummary("Let another project use one of this project's models or datasets, as project/name (an owner or an admin)");
        projects.MapGet("/{name}/grants", (string name, ProjectService s, ClaimsPrincipal user, CancellationToken ct) => s.GrantsAsync(name, user, ct))
            .WithName("ListProjectGrants").WithSummary("The grants a project gave and received");
        projects.MapDelete("/{name}/grants/{id:long}", async (string name, long id, ProjectService s, ClaimsPrincipal user, CancellationToken ct) =>
        {
            await s.RevokeGrantAsync(name, id, user, ct);
            return TypedResults.NoContent();
        }).RequireAuthorization(Policies.Editor).WithName("RevokeProjectGrant").WithSummary("Withdraw a grant (an owner or an admin)");

        var tokens = routes.MapGroup("/api/v1/tokens").WithTags("Security").RequireAuthorization(Policies.Admin);
        tokens.MapPost("/", CreateToken).WithName("CreateToken")
            .WithSummary("Create a token with a role for a user or service account (without one, for a new service account of its name); the secret is shown once");
        tokens.MapGet("/", ListTokens).WithName("ListTokens").WithSummary("List tokens (never their secrets)");
        tokens.MapDelete("/{id:long}", RevokeToken).WithName("RevokeToken").WithSummary("Revoke a token");
        tokens.MapPost("/{id:long}/rotate", RotateToken).WithName("RotateToken")
            .WithSummary("Give a token a new secret (shown once); the old one works until it would have expired");

        var users = routes.MapGroup("/api/v1/users").WithTags("Security").RequireAuthorization(Policies.Admin).WithMetadata(AcrossProjects.Instance);
        users.MapPost("/", async (CreateUserRequest request, UserService s, ClaimsPrincipal user, CancellationToken ct) =>
            TypedResults.Created($"/api/v1/users/{request.Name}", await s.CreateAsync(request, user.Actor(), ct)))
            .WithName("CreateUser").WithSummary("Create a user (a person) or a service account (a program) to own tokens");
        users.MapGet("/", (UserService s, CancellationToken ct) => s.ListAsync(ct)).WithName("ListUsers").WithSummary("List users and service accounts, with their live tokens");
        users.MapPost("/{name}/disable", (string name, UserService s, CancellationToken ct) => s.DisableAsync(name, ct)).WithName("DisableUser")
            .WithSummary("Disable a user or service account: its tokens stop working; its name and record stay");

        routes.MapGet("/api/v1/audit", ListAudit).WithTags("Security").WithName("ListAudit")
            .WithSummary("The append-only audit log, newest first (since: only rows from that time on)").RequireAuthorization(Policies.Admin).WithMetadata(AcrossProjects.Instance);
        routes.MapGet("/api/v1/audit/verify", VerifyAudit).WithTags("Security").WithName("VerifyAudit")
            .WithSummary("Checks the audit log's hash chain: intact, or the first row that breaks it and why").RequireAuthorization(Policies.Admin).WithMetadata(AcrossProjects.Instance);
        routes.MapGet("/api/v1/keys", ListKeys).WithTags("Security").WithName("ListKeys")
            .WithSummary("The key-encryption keys that wrap the blobs' data keys (never the keys): which is active, how many data keys each wraps").RequireAuthorization(Policies.Admin).WithMetadata(AcrossProjects.Instance);
        routes.MapPost("/api/v1/keys/rotate", RotateKeys).WithTags("Security").WithName("RotateKeys")
            .WithSummary("A new active key-encryption key; every data key re-wrapped under it (the blobs are not rewritten) and the earlier keys retired").RequireAuthorization(Policies.Admin).WithMetadata(AcrossProjects.Instance);
        var secrets = routes.MapGroup("/api/v1/secrets").WithTags("Security").RequireAuthorization(Policies.Admin).WithMetadata(AcrossProjects.Instance);
        secrets.MapGet("/", (SecretService s, CancellationToken ct) => s.ListAsync(ct)).WithName("ListSecrets").WithSummary("List the secrets: names and when they were set, never values");
        secrets.MapPut("/{name}", (string name, SetSecretRequest request, SecretService s, ClaimsPrincipal user, CancellationToken ct) => s.SetAsync(name, request.Value, user.Actor(), ct))
            .WithName("SetSecret").WithSummary("Set a secret's value (sealed at rest; no route returns it); what needs it names it as secret:NAME");
        secrets.MapDelete("/{name}", (string name, SecretService s, CancellationToken ct) => s.DeleteAsync(name, ct)).WithName("DeleteSecret").WithSummary("Delete a secret");
        routes.MapPost("/api/v1/admin/gc", CollectGarbage).WithTags("Security").WithName("CollectGarbage")
            .WithSummary("Delete blobs no live dataset version, artifact or model version references").RequireAuthorization(Policies.Admin).WithMetadata(AcrossProjects.Instance);
    }

    private static Ok<WhoAmI> WhoAmI(ClaimsPrincipal user, HttpRequest request)
    {
        var project = ProjectAccess.Requested(request, user);
        var role = ProjectAccess.RoleIn(user, project);
        return TypedResults.Ok(new WhoAmI(user.Actor(), user.FindFirst(ClaimTypes.Role)?.Value ?? "", user.FindFirst(BearerTokenHandler.TokenClaim)?.Value,
            role is null ? null : project, role));
    }

    private static async Task<Created<CreatedToken>> CreateToken(CreateTokenRequest request, TokenService tokens, ClaimsPrincipal user, CancellationToken ct)
    {
        var created = await tokens.CreateAsync(request, user.Actor(), ct);
        return TypedResults.Created($"/api/v1/tokens/{created.Info.Id}", created);
    }

    private static Task<Page<TokenInfo>> ListTokens(TokenService tokens, int? page_size, string? page_token, CancellationToken ct) =>
        tokens.ListAsync(page_size, page_token, ct);

    private static async Task<Ok<TokenInfo>> RevokeToken(long id, TokenService tokens, CancellationToken ct) =>
        TypedResults.Ok(await tokens.RevokeAsync(id, ct));

    private static async Task<Ok<CreatedToken>> RotateToken(long id, TokenService tokens, CancellationToken ct) =>
        TypedResults.Ok(await tokens.RotateAsync(id, ct));

    internal static async Task<Page<AuditEntry>> ListAudit(StratusDb db, string? actor, string? outcome, DateTimeOffset? since, int? page_size, string? page_token, CancellationToken ct)
    {
        var (offset, size) = Paging.Parse(page_size, page_token);
        var query = db.Audit.AsNoTracking();
        if (actor is not null) query = query.Where(a => a.Actor == actor);
        if (outcome is not null) query = query.Where(a => a.Outcome == outcome);
        if (since is { } from) query = query.Where(a => a.Time >= from);
        var rows = await query.OrderByDescending(a => a.Id).Skip(offset).Take(size + 1)
            .Select(a => new AuditEntry(a.Id, a.Time, a.Actor, a.Role, a.Method, a.Path, a.Status, a.Outcome, a.RemoteAddress, a.Detail, a.PrevHash, a.Hash))
            .ToListAsync(ct);
        return Paging.Build(rows, offset, size);
    }

    private static async Task<Ok<AuditVerification>> VerifyAudit(StratusDb db, CancellationToken ct) =>
        TypedResults.Ok(await AuditChain.VerifyAsync(db, ct));

    private static async Task<Ok<IReadOnlyList<KeyStatus>>> ListKeys(DataKeys keys, StratusDb db, CancellationToken ct) =>
        TypedResults.Ok(await keys.ListAsync(db, ct));

    private static async Task<Ok<KeyRotation>> RotateKeys(DataKeys keys, StratusDb db, CancellationToken ct) =>
        TypedResults.Ok(await keys.RotateAsync(db, ct));

    private static async Task<Ok<GcResult>> CollectGarbage(BlobCollector collector, CancellationToken ct) =>
        TypedResults.Ok(await collector.CollectAsync(ct));
}
