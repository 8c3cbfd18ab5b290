using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Stratus.Server.Hosting;

namespace Stratus.Server.WebConsole;

/// <summary>What a console action did: a line to show, and whether it worked.</summary>
public sealed record ActionOutcome(bool Ok, string Message);

/// <summary>
/// The base of console pages: a fresh service scope per load or action (a circuit lives for hours; a DbContext must
/// not), and <see cref="ActAsync"/> for anything that changes state: the role is checked on the server (buttons are
/// hidden from those who may not press them, but hiding is not the guard), and the outcome is audited.
/// </summary>
public abstract class ConsolePage : ComponentBase
{
    [Inject] protected IServiceScopeFactory Scopes { get; set; } = default!;
    [Inject] private IAuthorizationService Authorization { get; set; } = default!;
    [CascadingParameter] protected Task<AuthenticationState> AuthenticationState { get; set; } = default!;

    /// <summary>Runs <paramref name="action"/> in its own scope when the user holds <paramref name="policy"/>; a refused or failed action returns why, in words.</summary>
    protected async Task<ActionOutcome> ActAsync(string policy, string method, string path, Func<IServiceProvider, ClaimsPrincipal, Task<string>> action)
    {
        var user = (await AuthenticationState).User;
        await using var scope = Scopes.CreateAsyncScope();
        if (!(await Authorization.AuthorizeAsync(user, policy)).Succeeded)
        {
            await ConsoleAudit.RecordAsync(scope.ServiceProvider, user, method, path, 403, "refused: needs " + policy);
            return new ActionOutcome(false, $"This needs an {policy} token{(policy == "editor" ? " (or admin)" : "")}.");
        }
        try
        {
            var done = await action(scope.ServiceProvider, user);
            await ConsoleAudit.RecordAsync(scope.ServiceProvider, user, method, path, 200, done);
            return new ActionOutcome(true, done);
        }
        catch (Exception ex) when (ex is ProblemException or Stratus.Ml.Data.DataFormatException or IOException or InvalidOperationException)
        {
            await ConsoleAudit.RecordAsync(scope.ServiceProvider, user, method, path, ex is ProblemException p ? p.Status : 400, "refused: " + ex.Message);
            return new ActionOutcome(false, ex.Message);
        }
    }

    /// <summary>Reads with a service in its own scope.</summary>
    protected async Task<T> ReadAsync<TService, T>(Func<TService, Task<T>> read) where TService : notnull
    {
        await using var scope = Scopes.CreateAsyncScope();
        return await read(scope.ServiceProvider.GetRequiredService<TService>());
    }

    protected async Task<bool> IsAsync(string policy) => (await Authorization.AuthorizeAsync((await AuthenticationState).User, policy)).Succeeded;
}
