using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Stratus.Server.Security;

namespace Stratus.Server.Serving;

/// <summary>
/// The serving hot path: <c>POST /api/v1/endpoints/{name}/predict</c> to an endpoint already in memory, with a JSON
/// body and a bearer token authenticated in the last seconds, is answered here without routing, the authentication
/// and authorization handlers, or a request scope (everything it needs is a singleton); that chain cost a quarter of
/// the throughput of a bare route calling the same model. Any other request, and any of these that does not fit
/// (unknown or uncached token, endpoint not loaded, no JSON body), goes down the full pipeline, which answers it
/// exactly as it would have. Errors thrown here reach the same exception handler and audit.
/// </summary>
internal sealed class PredictFastPath(RequestDelegate next, ModelCache cache, Scorer scorer, IMemoryCache tokens, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json)
{
    private const string Prefix = "/api/v1/endpoints/";
    private const string Suffix = "/predict";

    private readonly JsonTypeInfo<PredictRequest> _request = (JsonTypeInfo<PredictRequest>)json.Value.SerializerOptions.GetTypeInfo(typeof(PredictRequest));
    private readonly JsonTypeInfo<PredictResponse> _response = (JsonTypeInfo<PredictResponse>)json.Value.SerializerOptions.GetTypeInfo(typeof(PredictResponse));

    public Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method) || EndpointName(request.Path.Value) is not { } name
            || !request.HasJsonContentType() || !BodyGuardMiddleware.IsUtf8(request) || request.ContentLength is null or 0
            || BearerTokenHandler.CachedUser(request, tokens) is not { } user)
        {
            return next(context);
        }
        // The endpoint in the request's project, where the caller may call it (as ProjectMiddleware and InvokeRequirement decide).
        var project = ProjectAccess.Requested(request, user);
        if (!cache.TryGet(Projects.EndpointKey(project, name), out var endpoint) || !InvokeRequirement.Allows(ProjectAccess.RoleIn(user, project), user, name))
            return next(context);
        context.User = user;
        AuditMiddleware.MarkReadOnly(context);
        return AnswerAsync(context, endpoint);
    }

    private async Task AnswerAsync(HttpContext context, LoadedEndpoint endpoint)
    {
        var ct = context.RequestAborted;
        PredictRequest? body;
        try
        {
            body = await context.Request.ReadFromJsonAsync(_request, ct);
        }
        catch (JsonException ex)
        {
            throw new BadHttpRequestException("the request body is not a valid prediction request", 400, ex);
        }
        if (body is null) throw new BadHttpRequestException("the request body must be a JSON object with \"instances\"", 400);
        var response = await scorer.ScoreAsync(endpoint, body, context.TraceIdentifier, ct);
        await context.Response.WriteAsJsonAsync(response, _response, contentType: null, ct);
    }

    /// <summary>NAME of <c>/api/v1/endpoints/NAME/predict</c> (literal segments match in any case, as routing does), or null.</summary>
    internal static string? EndpointName(string? path)
    {
        if (path is null || path.Length <= Prefix.Length + Suffix.Length
            || !path.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) || !path.EndsWith(Suffix, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        var name = path[Prefix.Length..^Suffix.Length];
        return name.Contains('/', StringComparison.Ordinal) ? null : name;
    }
}
