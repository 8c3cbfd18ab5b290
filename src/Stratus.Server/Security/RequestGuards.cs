using System.Security.Claims;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Stratus.Server.Storage;

namespace Stratus.Server.Security;

/// <summary>Marks a POST that changes nothing (a prediction): audited only when refused, so the hot path writes no audit row.</summary>
internal sealed class ReadOnlyPostMetadata;

/// <summary>Marks an endpoint that takes a raw file body (an upload) rather than JSON.</summary>
internal sealed class RawBodyMetadata(long maxBytes)
{
    public long MaxBytes { get; } = maxBytes;
}

/// <summary>
/// Request gates before any handler runs: JSON bodies only (so a cross-site <c>text/plain</c> form post cannot
/// mutate state), and body size limits (uploads get their own, larger limit).
/// </summary>
internal sealed class BodyGuardMiddleware(RequestDelegate next, IProblemDetailsService problems)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint is null)
        {
            await next(context); // no route: let it answer 404
            return;
        }
        var raw = endpoint.Metadata.GetMetadata<RawBodyMetadata>();
        var limit = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (raw is not null && limit is { IsReadOnly: false }) limit.MaxRequestBodySize = raw.MaxBytes;
        if (context.Request.ContentLength > limit?.MaxRequestBodySize)
        {
            // Refuse before reading: a client that sent Expect: 100-continue never uploads the body.
            await Refuse(context, 413, "Request too large", $"the body has {context.Request.ContentLength} bytes; this endpoint takes at most {limit.MaxRequestBodySize}");
            return;
        }
        var hasBody = context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0;
        // The API takes JSON only; the console's own routes (sign-in form, Blazor's circuit) are not the API.
        if (hasBody && raw is null && !context.Request.HasJsonContentType() && context.Request.Path.StartsWithSegments("/api"))
        {
            await Refuse(context, 415, "Unsupported media type", $"request bodies must be JSON (Content-Type: application/json), not '{context.Request.ContentType}'");
            return;
        }
        await next(context);
    }

    private async Task Refuse(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
    }
}

/// <summary>Appends an audit entry for every mutation and every refused request: who, what, when, from where, and the outcome.</summary>
internal sealed class AuditMiddleware(RequestDelegate next, IServiceScopeFactory scopes, TimeProvider clock)
{
    /// <summary>Whether the request's route changes nothing, noted when routed: the exception handler clears the route before the audit looks.</summary>
    private sealed class ReadOnlyFeature;

    /// <summary>Notes that the request changes nothing (a prediction), so that it is audited only when refused.</summary>
    public static void MarkReadOnly(HttpContext context) => context.Features.Set(ReadOnly);

    private static readonly ReadOnlyFeature ReadOnly = new();

    /// <summary>A request refused although its status says otherwise (a failed console sign-in redirects back to the form).</summary>
    private sealed record RefusedFeature(string Detail);

    /// <summary>Notes that the request was refused, with why, so that it is audited as <c>refused</c>.</summary>
    public static void MarkRefused(HttpContext context, string detail) => context.Features.Set(new RefusedFeature(detail));

    /// <summary>
    /// The last refusal audited per client address, status, actor and request (per address alone for the limiter's
    /// 429s), and how many like it were left out since: a client guessing tokens writes one row a minute, not one per guess.
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string? Address, int Status, string? Actor, string? Request), (DateTimeOffset Written, int Skipped)> _refusals = new();

    private static readonly TimeSpan CoalesceWindow = TimeSpan.FromMinutes(1);

    /// <summary>Whether to write this refusal, and how many were left out before it.</summary>
    private bool Coalesce((string? Address, int Status, string? Actor, string? Request) key, DateTimeOffset now, out int skipped)
    {
        var write = false;
        var left = 0;
        _refusals.AddOrUpdate(key, _ => { write = true; return (now, 0); }, (_, last) =>
        {
            if (now - last.Written < CoalesceWindow)
            {
                write = false;
                return (last.Written, last.Skipped + 1);
            }
            write = true;
            left = last.Skipped;
            return (now, 0);
        });
        if (_refusals.Count > 100_000) _refusals.Clear();
        skipped = left;
        return write;
    }

    /// <summary>Runs after routing: marks requests routed to a <see cref="ReadOnlyPostMetadata"/> endpoint.</summary>
    public static Task NoteRoute(HttpContext context, RequestDelegate next)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<ReadOnlyPostMetadata>() is not null) MarkReadOnly(context);
        return next(context);
    }

    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        finally
        {
            var status = context.Response.StatusCode;
            var method = context.Request.Method;
            // The console's circuit traffic (/_blazor) is no action in itself: what is done over it, ConsolePage.ActAsync audits.
            var mutation = !HttpMethods.IsGet(method) && !HttpMethods.IsHead(method) && !HttpMethods.IsOptions(method)
                && context.Features.Get<ReadOnlyFeature>() is null && !context.Request.Path.StartsWithSegments("/_blazor");
            var marked = context.Features.Get<RefusedFeature>();
            var throttled = context.Features.Get<AuthFailureLimiter.ThrottledFeature>() is not null;
            var refused = status is 401 or 403 || marked is not null || throttled;
            var now = clock.GetUtcNow();
            var remote = context.Connection.RemoteIpAddress?.ToString();
            var skipped = 0;
            if ((mutation || refused) && !context.Request.Path.StartsWithSegments("/health") && (!refused || Coalesce(throttled ? (remote, status, null, null) : (remote, status, context.User.Actor(), $"{method} {context.Request.Path}"), now, out skipped)))
            {
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
                db.Audit.Add(new AuditRow
                {
                    Time = now,
                    Actor = context.User.Actor(),
                    Role = context.User.FindFirst(ClaimTypes.Role)?.Value,
                    Method = method,
                    Path = Truncate(context.Request.Path.Value ?? "", 1024),
                    Status = status,
                    Outcome = refused ? "refused" : status >= 400 ? "error" : "ok",
                    RemoteAddress = remote,
                    Detail = (marked?.Detail, skipped) switch
                    {
                        (null, 0) => null,
                        (var detail, 0) => detail,
                        (var detail, var n) => $"{(detail is null ? "" : detail + "; ")}{n} more refused like it from this address in the minute before, not written one by one",
                    },
                });
                await db.SaveChangesAsync(CancellationToken.None);
            }
        }
    }

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];
}
