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
            var refused = status is 401 or 403;
            if ((mutation || refused) && !context.Request.Path.StartsWithSegments("/health"))
            {
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
                db.Audit.Add(new AuditRow
                {
                    Time = clock.GetUtcNow(),
                    Actor = context.User.Actor(),
                    Role = context.User.FindFirst(ClaimTypes.Role)?.Value,
                    Method = method,
                    Path = Truncate(context.Request.Path.Value ?? "", 1024),
                    Status = status,
                    Outcome = refused ? "refused" : status >= 400 ? "error" : "ok",
                    RemoteAddress = context.Connection.RemoteIpAddress?.ToString(),
                });
                await db.SaveChangesAsync(CancellationToken.None);
            }
        }
    }

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];
}
