using System.Security.Claims;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Stratus.Server.Storage;

namespace Stratus.Server.Security;

/// <summary>Marks a POST that changes nothing (a prediction): audited only when refused, so the hot path writes no audit row.</summary>
internal sealed class ReadOnlyPostMetadata;

/// <summary>
/// Marks a route of many small appends (metric batches, several a second from one training): one audit row a minute per
/// actor and path with a count of the others, like repeated refusals, rather than a second commit for every batch.
/// </summary>
internal sealed class CoalescedAuditMetadata;

/// <summary>
/// Marks a read of users' data itself (dataset rows and files, model and artifact files, captured requests): audited
/// like a mutation, with who read it, from where.
/// </summary>
internal sealed class SensitiveReadMetadata;

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
        if (hasBody && raw is null && !IsUtf8(context.Request))
        {
            // The JSON readers would throw on a charset they cannot decode, which reached clients as a 500.
            await Refuse(context, 415, "Unsupported media type", $"request bodies must be UTF-8 JSON; the Content-Type names charset '{Charset(context.Request)}'");
            return;
        }
        await next(context);
    }

    /// <summary>Whether a body's declared charset (if any) is UTF-8, the only one JSON bodies are read in.</summary>
    internal static bool IsUtf8(HttpRequest request) =>
        Charset(request) is not { Length: > 0 } charset || charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase);

    private static string? Charset(HttpRequest request) =>
        Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(request.ContentType, out var type) ? type.Charset.Value?.Trim('"') : null;

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

/// <summary>Appends an audit entry for every mutation, every read of users' data and every refused request: who, what, when, from where, and the outcome.</summary>
internal sealed partial class AuditMiddleware(RequestDelegate next, IServiceScopeFactory scopes, TimeProvider clock, ILogger<AuditMiddleware> logger)
{
    /// <summary>Whether the request's route changes nothing, noted when routed: the exception handler clears the route before the audit looks.</summary>
    private sealed class ReadOnlyFeature;

    /// <summary>Notes that the request changes nothing (a prediction), so that it is audited only when refused.</summary>
    public static void MarkReadOnly(HttpContext context) => context.Features.Set(ReadOnly);

    private static readonly ReadOnlyFeature ReadOnly = new();

    /// <summary>Whether the request's route is a <see cref="CoalescedAuditMetadata"/> one, noted when routed.</summary>
    private sealed class CoalescedFeature;

    private static readonly CoalescedFeature Coalesced = new();

    /// <summary>Whether the request's route is a <see cref="SensitiveReadMetadata"/> one, noted when routed.</summary>
    private sealed class SensitiveReadFeature;

    private static readonly SensitiveReadFeature SensitiveRead = new();

    /// <summary>A request refused although its status says otherwise (a failed console sign-in redirects back to the form).</summary>
    private sealed record RefusedFeature(string Detail);

    /// <summary>Notes that the request was refused, with why, so that it is audited as <c>refused</c>.</summary>
    public static void MarkRefused(HttpContext context, string detail) => context.Features.Set(new RefusedFeature(detail));

    /// <summary>
    /// The last refusal audited per client address, status, actor and request (per address alone for the limiter's
    /// 429s), and how many like it were left out since: a client guessing tokens writes one row a minute, not one per
    /// guess. Successful requests to a <see cref="CoalescedAuditMetadata"/> route are counted the same way.
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string? Address, int Status, string? Actor, string? Request), (DateTimeOffset Written, int Skipped)> _refusals = new();

    private static readonly TimeSpan CoalesceWindow = TimeSpan.FromMinutes(1);

    /// <summary>Whether to write this refusal (or coalesced append), and how many were left out before it.</summary>
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

    /// <summary>Runs after routing: marks requests routed to a <see cref="ReadOnlyPostMetadata"/>, <see cref="CoalescedAuditMetadata"/> or <see cref="SensitiveReadMetadata"/> endpoint.</summary>
    public static Task NoteRoute(HttpContext context, RequestDelegate next)
    {
        var metadata = context.GetEndpoint()?.Metadata;
        if (metadata?.GetMetadata<ReadOnlyPostMetadata>() is not null) MarkReadOnly(context);
        if (metadata?.GetMetadata<CoalescedAuditMetadata>() is not null) context.Features.Set(Coalesced);
        if (metadata?.GetMetadata<SensitiveReadMetadata>() is not null) context.Features.Set(SensitiveRead);
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
            var mutation = (!HttpMethods.IsGet(method) && !HttpMethods.IsHead(method) && !HttpMethods.IsOptions(method)
                && context.Features.Get<ReadOnlyFeature>() is null && !context.Request.Path.StartsWithSegments("/_blazor"))
                || context.Features.Get<SensitiveReadFeature>() is not null;
            var marked = context.Features.Get<RefusedFeature>();
            var throttled = context.Features.Get<AuthFailureLimiter.ThrottledFeature>() is not null;
            var refused = status is 401 or 403 || marked is not null || throttled;
            var routine = mutation && !refused && status < 400 && context.Features.Get<CoalescedFeature>() is not null;
            var now = clock.GetUtcNow();
            var remote = context.Connection.RemoteIpAddress?.ToString();
            var skipped = 0;
            if ((mutation || refused) && !context.Request.Path.StartsWithSegments("/health") && (!(refused || routine)
                || Coalesce(throttled ? (remote, status, null, null) : (remote, status, context.User.Actor(), $"{method} {context.Request.Path}"), now, out skipped)))
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
                        (var detail, var n) => $"{(detail is null ? "" : detail + "; ")}{n} more {(refused ? "refused " : "")}like it since the last such row, not written one by one",
                    },
                });
                try
                {
                    await db.SaveChangesAsync(CancellationToken.None);
                }
                catch (Exception ex) when (MetadataDatabase.IsUnavailable(ex))
                {
                    // The answer is already on its way (a 503, when the request needed the database itself); the
                    // operator's log keeps what the audit log could not.
                    LogAuditLost(logger, method, context.Request.Path.Value ?? "", status, context.User.Actor());
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The metadata database is unreachable: no audit row for {Method} {Path} ({Status}) by {Actor}")]
    private static partial void LogAuditLost(ILogger logger, string method, string path, int status, string actor);

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];
}

/// <summary>
/// What every answer carries for browsers (no MIME sniffing, no referrer beyond the site, no framing or plugins), and
/// the same-origin rule for the console's cookie-authenticated parts: its sign-in and sign-out posts and the Blazor
/// circuit (<c>/_blazor</c>, negotiate and WebSocket) refuse a request whose <c>Origin</c> is another site, so that
/// another page can neither sign a browser in or out nor open a circuit with its cookie.
/// </summary>
internal sealed class BrowserGuardMiddleware(RequestDelegate next, IProblemDetailsService problems)
{
    /// <summary>
    /// The policy of every answer but the API reference's: scripts, connections, images and fonts from this server only
    /// (the console's scripts are files; its live connection is a same-origin WebSocket), no inline or injected script, no
    /// framing, no plugins, no base-URL tricks. Inline styles stay allowed: the console's components set style attributes.
    /// </summary>
    public const string ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'";

    /// <summary>The API reference's (<c>/docs</c>): it configures itself with an inline script, so only framing, plugins and base-URL tricks are refused there.</summary>
    public const string ReferencePolicy = "frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'";

    public async Task InvokeAsync(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "same-origin";
        var request = context.Request;
        headers.ContentSecurityPolicy = request.Path.StartsWithSegments("/docs") ? ReferencePolicy : ContentSecurityPolicy;
        // Over HTTPS, browsers are told to come back over HTTPS only (a year; not the subdomains, which may be others').
        if (request.IsHttps) headers.StrictTransportSecurity = "max-age=31536000";
        var console = request.Path.StartsWithSegments("/_blazor")
            || (HttpMethods.IsPost(request.Method) && (request.Path.Equals(WebConsole.ConsoleEndpoints.SignInPath, StringComparison.Ordinal) || request.Path.Equals(WebConsole.ConsoleEndpoints.SignOutPath, StringComparison.Ordinal)));
        if (console && request.Headers.Origin is [{ } origin] && !SameOrigin(origin, request))
        {
            context.Response.StatusCode = 403;
            await problems.WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails = new ProblemDetails { Status = 403, Title = "Forbidden", Detail = "the console takes requests from its own pages only (the Origin is another site)" },
            });
            return;
        }
        await next(context);
    }

    private static bool SameOrigin(string origin, HttpRequest request) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri)
        && string.Equals(uri.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port}", request.Host.Value, StringComparison.OrdinalIgnoreCase);
}
