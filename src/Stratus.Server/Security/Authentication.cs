using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace Stratus.Server.Security;

/// <summary>Authenticates <c>Authorization: Bearer stratus_…</c> against the token table and answers 401/403 as ProblemDetails.</summary>
internal sealed class BearerTokenHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IMemoryCache cache,
    IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Bearer";

    /// <summary>The claim naming the token itself (the name claim is its user's).</summary>
    public const string TokenClaim = "token_name";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header)) return AuthenticateResult.NoResult();
        if (Secret(header) is not { } secret) return AuthenticateResult.Fail("not a bearer token");
        // The hot path (a token seen in the last seconds) needs no database context; only a miss builds the token service.
        if (!TokenService.TryGetCached(cache, secret, out var principal))
            principal = await Context.RequestServices.GetRequiredService<TokenService>().AuthenticateAsync(secret, Context.RequestAborted);
        if (principal is null)
        {
            AuthFailures.Fail(Context);
            return AuthenticateResult.Fail("unknown, revoked or expired token");
        }
        return AuthenticateResult.Success(new AuthenticationTicket(User(principal), SchemeName));
    }

    /// <summary>The user of a request whose bearer token was authenticated in the last seconds, or null (no token, or one that must be looked up).</summary>
    public static ClaimsPrincipal? CachedUser(HttpRequest request, IMemoryCache cache) =>
        Secret(request.Headers.Authorization.ToString()) is { } secret && TokenService.TryGetCached(cache, secret, out var principal) && principal is not null
            ? User(principal)
            : null;

    private static string? Secret(string header) =>
        header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;

    private static ClaimsPrincipal User(Principal principal) => new(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.Name, principal.Name),
            new Claim(ClaimTypes.Role, principal.Role),
            new Claim("token_id", principal.TokenId.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            .. (principal.Token is null ? [] : new[] { new Claim(TokenClaim, principal.Token) }),
            .. (principal.Endpoints ?? []).Select(e => new Claim(InvokeRequirement.EndpointClaim, e)),
            .. ProjectAccess.Claims(principal),
        ],
        SchemeName));

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = 401;
        Response.Headers.WWWAuthenticate = "Bearer";
        var detail = Request.Headers.Authorization.Count == 0
            ? "this endpoint needs a bearer token (Authorization: Bearer <token>); the first start writes one to <data-dir>/admin.token"
            : "the bearer token is unknown, revoked or expired";
        return Write(401, "Unauthorized", detail);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = 403;
        var role = Context.User.FindFirst(ClaimTypes.Role)?.Value ?? "none";
        return Write(403, "Forbidden", role == Roles.Invoke
            ? $"this token may only call the predict route of endpoint {string.Join(", ", Context.User.FindAll(InvokeRequirement.EndpointClaim).Select(c => c.Value))}"
            : $"this action needs a stronger role than '{role}'");
    }

    private async Task Write(int status, string title, string detail) =>
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
}

/// <summary>Requires a role of at least the given rank: admin includes editor, editor includes viewer.</summary>
internal sealed class MinimumRoleRequirement(string role) : AuthorizationHandler<MinimumRoleRequirement>, IAuthorizationRequirement
{
    public string Role { get; } = role;

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, MinimumRoleRequirement requirement)
    {
        if (Roles.Rank(context.User.FindFirst(ClaimTypes.Role)?.Value) >= Roles.Rank(requirement.Role)) context.Succeed(requirement);
        return Task.CompletedTask;
    }
}

/// <summary>
/// The predict route's rule: any role, or an <see cref="Roles.Invoke"/> token that names the endpoint of the route
/// (<c>{name}</c>). Everywhere else an invoke token ranks below viewer, so every other route refuses it.
/// </summary>
internal sealed class InvokeRequirement : AuthorizationHandler<InvokeRequirement>, IAuthorizationRequirement
{
    /// <summary>The claim, one per endpoint, of an invoke token.</summary>
    public const string EndpointClaim = "endpoint";

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, InvokeRequirement requirement)
    {
        if (Allows(context.User, (context.Resource as HttpContext)?.GetRouteValue("name") as string)) context.Succeed(requirement);
        return Task.CompletedTask;
    }

    /// <summary>Whether <paramref name="user"/>, as entered in the endpoint's project, may call the predict route of the endpoint keyed <paramref name="endpoint"/>.</summary>
    public static bool Allows(ClaimsPrincipal user, string? endpoint) =>
        endpoint is not null && Allows(user.FindFirst(ClaimTypes.Role)?.Value, user, Projects.SplitEndpointKey(endpoint).Name);

    /// <summary>Whether a caller with <paramref name="role"/> in an endpoint's project may call its predict route (also asked by the serving fast path).</summary>
    public static bool Allows(string? role, ClaimsPrincipal user, string name) =>
        Roles.Rank(role) >= Roles.Rank(Roles.Viewer) || (role == Roles.Invoke && user.HasClaim(EndpointClaim, name));
}

internal static class Policies
{
    public const string Viewer = Roles.Viewer;
    public const string Editor = Roles.Editor;
    public const string Admin = Roles.Admin;
    public const string Invoke = Roles.Invoke;

    public static void Add(AuthorizationOptions options)
    {
        foreach (var role in Roles.All)
        {
            options.AddPolicy(role, p => p.RequireAuthenticatedUser().AddRequirements(new MinimumRoleRequirement(role)));
        }
        options.AddPolicy(Invoke, p => p.RequireAuthenticatedUser().AddRequirements(new InvokeRequirement()));
        // Anything not marked otherwise needs at least a viewer token.
        options.FallbackPolicy = options.GetPolicy(Roles.Viewer);
        options.DefaultPolicy = options.GetPolicy(Roles.Viewer)!;
    }

    public static string Actor(this ClaimsPrincipal user) => user.Identity?.Name ?? "anonymous";
}
