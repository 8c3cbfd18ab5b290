using MudBlazor.Services;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Stratus.Server.Security;

namespace Stratus.Server.WebConsole;

/// <summary>
/// How the web console signs in: an API token, checked once, then a cookie holding who it is and which token; the
/// token is checked again on every request (as bearer tokens are: cached for 5 seconds, dropped at once on revocation
/// here), so a revoked one sends the browser back to sign-in with nothing shown.
/// </summary>
internal static class ConsoleAuth
{
    public const string SelectorScheme = "Stratus";
    public const string CookieScheme = "Console";

    private static readonly string[] TokenPaths = ["/api", "/metrics", "/openapi", "/docs", "/health"];

    /// <summary>The API (and its documents, metrics, health) and anything carrying a bearer token: the token; everything else (the console): the cookie.</summary>
    public static string SchemeFor(HttpContext context) =>
        context.Request.Headers.Authorization.Count > 0 || TokenPaths.Any(p => context.Request.Path.StartsWithSegments(p))
            ? BearerTokenHandler.SchemeName
            : CookieScheme;

    public static void Configure(CookieAuthenticationOptions o)
    {
        o.Cookie.Name = "stratus.console";
        o.Cookie.HttpOnly = true;
        o.Cookie.SameSite = SameSiteMode.Strict;
        o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        o.LoginPath = "/signin";
        o.AccessDeniedPath = "/forbidden";
        o.ExpireTimeSpan = TimeSpan.FromHours(12);
        o.SlidingExpiration = true;
        o.Events.OnValidatePrincipal = async context =>
        {
            var id = long.TryParse(context.Principal?.FindFirstValue("token_id"), out var v) ? v : -1;
            var tokens = context.HttpContext.RequestServices.GetRequiredService<TokenService>();
            if (!await tokens.IsLiveAsync(id, context.HttpContext.RequestAborted))
            {
                context.RejectPrincipal();
                await context.HttpContext.SignOutAsync(CookieScheme);
            }
        };
    }
}

/// <summary>The console's routes: the Blazor app at <c>/</c>, and sign-in and sign-out.</summary>
internal static class ConsoleEndpoints
{
    /// <summary>Where the sign-in form posts a token (also what the failed-authentication limiter and the Origin check watch).</summary>
    public const string SignInPath = "/console/signin";

    /// <summary>Where signing out posts.</summary>
    public const string SignOutPath = "/console/signout";

    /// <summary>The console's services: Blazor's interactive server components, MudBlazor, the signed-in user.</summary>
    public static void AddStratusConsole(this IServiceCollection services)
    {
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddCascadingAuthenticationState();
        services.AddScoped<Microsoft.AspNetCore.Components.Authorization.AuthenticationStateProvider, ConsoleAuthenticationState>();
        services.AddMudServices();
    }

    public static void MapConsole(this WebApplication app)
    {
        var manifest = Path.Combine(AppContext.BaseDirectory, $"{app.Environment.ApplicationName}.staticwebassets.endpoints.json");
        if (File.Exists(manifest)) app.MapStaticAssets(manifest).AllowAnonymous();
        // The server sends one Content-Security-Policy on every answer (BrowserGuardMiddleware), frame-ancestors included.
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode(o => o.ContentSecurityFrameAncestorsPolicy = null);

        app.MapPost(SignInPath, async (HttpContext context, TokenService tokens) =>
        {
            var form = await context.Request.ReadFormAsync(context.RequestAborted);
            var principal = await tokens.AuthenticateAsync(form["token"].ToString().Trim(), context.RequestAborted);
            if (principal is null)
            {
                AuthFailures.Fail(context);
                AuditMiddleware.MarkRefused(context, "console sign-in with an unknown or revoked token");
                return Results.Redirect("/signin?error=" + Uri.EscapeDataString("That token is unknown or revoked."));
            }
            if (Roles.Rank(principal.Role) < Roles.Rank(Roles.Viewer))
            {
                AuditMiddleware.MarkRefused(context, $"console sign-in with a {principal.Role} token");
                return Results.Redirect("/signin?error=" + Uri.EscapeDataString("That token may only call endpoints' predictions; sign in with a viewer, editor or admin token."));
            }
            var identity = new ClaimsIdentity(
                [
                    new Claim(ClaimTypes.Name, principal.Name),
                    new Claim(ClaimTypes.Role, principal.Role),
                    new Claim("token_id", principal.TokenId.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    .. ProjectAccess.Claims(principal),
                ], ConsoleAuth.CookieScheme);
            await context.SignInAsync(ConsoleAuth.CookieScheme, new ClaimsPrincipal(identity));
            return Results.Redirect("/");
        }).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription().WithMetadata(AcrossProjects.Instance);

        // Downloads in the browser: the API's handler, behind the console's cookie, in a project as the API's routes are
        // (ProjectMiddleware): a run of a project the user may not see does not exist.
        app.MapGet("/console/runs/{id}/artifacts/{**path}", Tracking.TrackingApi.GetArtifact).WithMetadata(new SensitiveReadMetadata()).ExcludeFromDescription();

        app.MapPost(SignOutPath, async (HttpContext context) =>
        {
            await context.SignOutAsync(ConsoleAuth.CookieScheme);
            return Results.Redirect("/signin");
        }).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription().WithMetadata(AcrossProjects.Instance);
    }
}

/// <summary>
/// Keeps a live console page honest: every 5 seconds its circuit checks the token it signed in with (through the
/// same cache as every request), and a revoked one turns the page into a sign-in redirect, showing nothing more.
/// </summary>
internal sealed class ConsoleAuthenticationState(ILoggerFactory loggers, IServiceScopeFactory scopes)
    : Microsoft.AspNetCore.Components.Server.RevalidatingServerAuthenticationStateProvider(loggers)
{
    protected override TimeSpan RevalidationInterval => TimeSpan.FromSeconds(5);

    protected override async Task<bool> ValidateAuthenticationStateAsync(Microsoft.AspNetCore.Components.Authorization.AuthenticationState state, CancellationToken ct)
    {
        if (!long.TryParse(state.User.FindFirstValue("token_id"), out var id)) return false;
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<TokenService>().IsLiveAsync(id, ct);
    }
}
