using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Stratus.Server.Kernel;
using Stratus.Server.Security;

namespace Stratus.Server.WebConsole;

/// <summary>What a console action did: a line to show, and whether it worked.</summary>
public sealed record ActionOutcome(bool Ok, string Message);

/// <summary>
/// The base of console pages: a fresh service scope per load or action (a circuit lives for hours; a DbContext must
/// not), and <see cref="ActAsync"/> for anything that changes state: the role is checked on the server (buttons are
/// hidden from those who may not press them, but hiding is not the guard), and the outcome is audited: console actions
/// travel over the circuit, not as HTTP requests the audit middleware sees, so each is written here by the same rules.
/// </summary>
public abstract class ConsolePage : ComponentBase
{
    /// <summary>The project the console shows (the default project; choosing another comes with the project picker).</summary>
    protected const string Project = Projects.Default;

    [Inject] private IServiceScopeFactory RootScopes { get; set; } = default!;
    [Inject] private IAuthorizationService Authorization { get; set; } = default!;
    [CascadingParameter] protected Task<AuthenticationState> AuthenticationState { get; set; } = default!;

    /// <summary>
    /// Scopes entered in <see cref="Project"/> when the user may see it, else in none (they show nothing): the console
    /// reads through the same project filter as the API.
    /// </summary>
    protected IServiceScopeFactory Scopes => new ProjectScopes(RootScopes,
        AuthenticationState is { IsCompletedSuccessfully: true } state && ProjectAccess.RoleIn(state.Result.User, Project) is not null ? Project : "");

    /// <summary>The signed-in user with its role in <see cref="Project"/> (none: it may not see it), as the API's policies check it.</summary>
    private async Task<ClaimsPrincipal> UserAsync()
    {
        var user = (await AuthenticationState).User;
        return ProjectAccess.In(user, ProjectAccess.RoleIn(user, Project) ?? "none");
    }

    private sealed class ProjectScopes(IServiceScopeFactory root, string project) : IServiceScopeFactory
    {
        public IServiceScope CreateScope()
        {
            var scope = root.CreateScope();
            scope.ServiceProvider.GetRequiredService<ProjectScope>().Enter(project);
            return scope;
        }
    }

    /// <summary>Runs <paramref name="action"/> in its own scope when the user holds <paramref name="policy"/>; a refused or failed action returns why, in words.</summary>
    protected async Task<ActionOutcome> ActAsync(string policy, string method, string path, Func<IServiceProvider, ClaimsPrincipal, Task<string>> action)
    {
        var user = await UserAsync();
        await using var scope = Scopes.CreateAsyncScope();
        if (!(await Authorization.AuthorizeAsync(user, policy)).Succeeded)
        {
            await AuditAsync(scope.ServiceProvider, user, method, path, 403, "refused: needs " + policy);
            return new ActionOutcome(false, $"This needs an {policy} token{(policy == "editor" ? " (or admin)" : "")}.");
        }
        try
        {
            var done = await action(scope.ServiceProvider, user);
            await AuditAsync(scope.ServiceProvider, user, method, path, 200, done);
            return new ActionOutcome(true, done);
        }
        catch (Exception ex) when (ex is ProblemException or Stratus.Ml.Data.DataFormatException or IOException or InvalidOperationException)
        {
            await AuditAsync(scope.ServiceProvider, user, method, path, ex is ProblemException p ? p.Status : 400, "refused: " + ex.Message);
            return new ActionOutcome(false, ex.Message);
        }
    }

    /// <summary>
    /// Records a read of users' data that a page showed (a dataset's rows), as the audit middleware records the same
    /// read through the API: under its API path, with what was shown in words.
    /// </summary>
    protected async Task AuditReadAsync(IServiceProvider services, string path, string detail) =>
        await AuditAsync(services, (await AuthenticationState).User, "GET", path, 200, detail);

    private static async Task AuditAsync(IServiceProvider services, ClaimsPrincipal user, string method, string path, int status, string detail)
    {
        var db = services.GetRequiredService<Stratus.Server.Storage.StratusDb>();
        db.Audit.Add(new AuditRow
        {
            Time = services.GetRequiredService<TimeProvider>().GetUtcNow(),
            Actor = user.Actor(),
            Role = user.FindFirst(ClaimTypes.Role)?.Value,
            Method = method,
            Path = path,
            Status = status,
            Outcome = status is 401 or 403 ? "refused" : status >= 400 ? "error" : "ok",
            Detail = detail,
        });
        await db.SaveChangesAsync();
    }

    /// <summary>Reads with a service in its own scope.</summary>
    protected async Task<T> ReadAsync<TService, T>(Func<TService, Task<T>> read) where TService : notnull
    {
        await using var scope = Scopes.CreateAsyncScope();
        return await read(scope.ServiceProvider.GetRequiredService<TService>());
    }

    protected async Task<bool> IsAsync(string policy) => (await Authorization.AuthorizeAsync(await UserAsync(), policy)).Succeeded;
}
