using System.Collections.Concurrent;
using Microsoft.AspNetCore.Mvc;

namespace Stratus.Server.Security;

/// <summary>
/// Failed authentications per client address: after <see cref="SecuritySettings.AuthFailureBurst"/> failures within
/// <see cref="SecuritySettings.AuthFailureWindow"/>, every request from that address that carries credentials (a bearer
/// token, a console sign-in) gets 429 with Retry-After until the window ends, before any token is looked up or any
/// audit row written. Guessing tokens becomes slow and cheap to refuse. A token authenticated in the last seconds
/// still passes, so that clients sharing an address (behind one proxy) are not locked out by one of them.
/// </summary>
internal sealed class AuthFailureLimiter(RequestDelegate next, AuthFailures failures, Microsoft.Extensions.Caching.Memory.IMemoryCache cache, IProblemDetailsService problems)
{
    /// <summary>Marks a request answered by the limiter: audited once per window, as a refusal.</summary>
    internal sealed class ThrottledFeature;

    public async Task InvokeAsync(HttpContext context)
    {
        var carriesCredentials = context.Request.Headers.Authorization.Count > 0
            || (HttpMethods.IsPost(context.Request.Method) && context.Request.Path.Equals(WebConsole.ConsoleEndpoints.SignInPath, StringComparison.Ordinal));
        if (carriesCredentials && failures.RetryAfter(context) is { } wait && BearerTokenHandler.CachedUser(context.Request, cache) is null)
        {
            context.Features.Set(new ThrottledFeature());
            context.Response.StatusCode = 429;
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            await problems.WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails = new ProblemDetails
                {
                    Status = 429,
                    Title = "Too many requests",
                    Detail = $"too many failed authentications from this address; try again in {Math.Ceiling(wait.TotalSeconds):F0} s",
                },
            });
            return;
        }
        await next(context);
    }

}

/// <summary>The failed authentications of each client address in its current window (one per server).</summary>
internal sealed class AuthFailures(SecuritySettings options, TimeProvider clock)
{
    private sealed class Window(DateTimeOffset start)
    {
        public DateTimeOffset Start = start;
        public int Failures;
    }

    private readonly ConcurrentDictionary<string, Window> _windows = new();

    /// <summary>Counts a failed authentication (an unknown or revoked token) from the request's client.</summary>
    public static void Fail(HttpContext context) => context.RequestServices.GetRequiredService<AuthFailures>().Count(context);

    private void Count(HttpContext context)
    {
        var now = clock.GetUtcNow();
        var span = options.AuthFailureWindow;
        if (_windows.Count > 100_000)
        {
            // Addresses are many: the windows that ended go.
            foreach (var (address, w) in _windows)
            {
                if (now - w.Start >= span) _windows.TryRemove(address, out _);
            }
        }
        var window = _windows.GetOrAdd(Address(context), _ => new Window(now));
        lock (window)
        {
            if (now - window.Start >= span)
            {
                window.Start = now;
                window.Failures = 0;
            }
            window.Failures++;
        }
    }

    /// <summary>How long the request's client must wait, when it is over the limit.</summary>
    public TimeSpan? RetryAfter(HttpContext context)
    {
        if (!_windows.TryGetValue(Address(context), out var window)) return null;
        var limits = options;
        lock (window)
        {
            var left = window.Start + limits.AuthFailureWindow - clock.GetUtcNow();
            return window.Failures >= limits.AuthFailureBurst && left > TimeSpan.Zero ? left : null;
        }
    }

    private static string Address(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "";
}
