using Microsoft.AspNetCore.Http.HttpResults;
using Stratus.Server.Kernel;
using Stratus.Server.Security;

namespace Stratus.Server.Serving;

/// <summary>Routes of <c>/api/v1/endpoints</c>, and <c>/metrics</c>.</summary>
public static class EndpointsApi
{
    /// <summary>
    /// The serving capability's services: endpoints, the model cache and replicas, scoring and its counters, rollouts,
    /// shadow scoring and request capture; in a cluster, loaded endpoints kept in step with changes other nodes make.
    /// </summary>
    public static void AddStratusServing(this IServiceCollection services, bool clustered)
    {
        services.AddScoped<EndpointService>();
        services.AddSingleton<ModelCache>();
        services.AddSingleton<ReplicaRegistry>();
        services.AddSingleton<ServingMetrics>();
        services.AddSingleton<TrafficHistory>();
        services.AddHostedService(s => s.GetRequiredService<TrafficHistory>());
        services.AddSingleton<Scorer>();
        services.AddSingleton<RolloutBaselines>();
        services.AddScoped<RolloutService>();
        services.AddSingleton<ShadowScoring>();
        services.AddHostedService(s => s.GetRequiredService<ShadowScoring>());
        services.AddSingleton<RequestCapture>();
        services.AddHostedService(s => s.GetRequiredService<RequestCapture>());
        if (clustered) services.AddHostedService<EndpointSync>();
    }

    public static void MapEndpointsApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("/api/v1/endpoints").WithTags("Endpoints");
        api.MapGet("/", List).WithName("ListEndpoints").WithSummary("List endpoints");
        api.MapGet("/{name}", Get).WithName("GetEndpoint").WithSummary("Show an endpoint");
        api.MapPut("/{name}", Deploy).WithName("DeployEndpoint").WithSummary("Deploy or switch an endpoint to a model (NAME:VERSION, NAME@ALIAS or NAME)").RequireAuthorization(Policies.Editor);
        api.MapPut("/{name}/traffic", SetTraffic).WithName("SetEndpointTraffic")
            .WithSummary("Split an endpoint's requests between model versions (weights in percent summing to 100), with an optional shadow version").RequireAuthorization(Policies.Editor);
        api.MapPut("/{name}/limits", SetLimits).WithName("SetEndpointLimits")
            .WithSummary("Set how many requests the endpoint scores at once and how many may wait; more get 429 with Retry-After").RequireAuthorization(Policies.Editor);
        api.MapPut("/{name}/batching", SetBatching).WithName("SetEndpointBatching")
            .WithSummary("Turn adaptive micro-batching on or off: concurrent requests scored in one model call, waiting at most max_delay_ms").RequireAuthorization(Policies.Editor);
        api.MapPut("/{name}/scaling", SetScaling).WithName("SetEndpointScaling")
            .WithSummary("Set the endpoint's replicas: from min_replicas (0 lets it scale to zero when idle) to max_replicas, following requests in flight; an unneeded replica stops after idle_seconds")
            .RequireAuthorization(Policies.Editor);
        api.MapPut("/{name}/capture", SetCapture).WithName("SetEndpointCapture")
            .WithSummary("Record a share of the answered requests (each row's inputs and prediction) for monitoring; 0 turns capture off").RequireAuthorization(Policies.Editor);
        api.MapGet("/{name}/captures", Captures).WithName("GetEndpointCaptures").WithSummary("The latest captured rows, newest first (limit: 1 to 1,000, default 100)")
            .WithMetadata(new SensitiveReadMetadata());
        api.MapGet("/{name}/shadow", Shadow).WithName("GetEndpointShadow").WithSummary("The latest requests the shadow version scored beside the live one, newest first")
            .WithMetadata(new SensitiveReadMetadata());
        api.MapPost("/{name}/rollout", StartRollout).WithName("StartRollout")
            .WithSummary("Roll a new model version out step by step (canary, step, interval), rolling back by itself when it fails more requests or answers slower than allowed")
            .RequireAuthorization(Policies.Editor);
        api.MapGet("/{name}/rollout", GetRollout).WithName("GetRollout").WithSummary("The endpoint's latest rollout: its step, status and the evidence of its end");
        api.MapDelete("/{name}/rollout", AbortRollout).WithName("AbortRollout").WithSummary("Abort a running rollout: the old version takes all the traffic back")
            .RequireAuthorization(Policies.Editor);
        api.MapDelete("/{name}", Delete).WithName("DeleteEndpoint").WithSummary("Delete an endpoint").RequireAuthorization(Policies.Editor);
        api.MapGet("/{name}/traffic", Traffic).WithName("GetEndpointTraffic")
            .WithSummary("The endpoint's traffic second by second over the last 5 minutes on this server: requests, errors and latency percentiles");
        api.MapPost("/{name}/predict", Predict).WithName("Predict").WithSummary("Score rows: {\"instances\": [{column: value, ...}, ...]}")
            .WithMetadata(new ReadOnlyPostMetadata()).RequireAuthorization(Policies.Invoke);
        routes.MapGet("/metrics", Metrics).WithTags("Endpoints").WithName("Metrics")
            .WithSummary("Serving metrics in Prometheus's text format: requests, errors, rows and latency per endpoint and model version, of the projects the caller may see (an admin: all)");
    }

    private static Task<Page<EndpointInfo>> List(EndpointService endpoints, int? page_size, string? page_token, CancellationToken ct) =>
        endpoints.ListAsync(page_size, page_token, ct);

    private static async Task<Ok<EndpointInfo>> Get(string name, EndpointService endpoints, CancellationToken ct) => TypedResults.Ok(await endpoints.GetAsync(name, ct));

    private static async Task<Ok<EndpointInfo>> Deploy(string name, DeployRequest request, EndpointService endpoints, CancellationToken ct) =>
        TypedResults.Ok(await endpoints.DeployAsync(name, request, ct));

    private static async Task<Ok<EndpointInfo>> SetTraffic(string name, TrafficRequest request, EndpointService endpoints, CancellationToken ct) =>
        TypedResults.Ok(await endpoints.SetTrafficAsync(name, request, ct));

    private static async Task<Ok<EndpointInfo>> SetLimits(string name, EndpointLimits limits, EndpointService endpoints, CancellationToken ct) =>
        TypedResults.Ok(await endpoints.SetLimitsAsync(name, limits, ct));

    private static async Task<Ok<EndpointInfo>> SetBatching(string name, EndpointBatching batching, EndpointService endpoints, CancellationToken ct) =>
        TypedResults.Ok(await endpoints.SetBatchingAsync(name, batching, ct));

    private static async Task<Ok<EndpointInfo>> SetScaling(string name, EndpointScaling scaling, EndpointService endpoints, CancellationToken ct) =>
        TypedResults.Ok(await endpoints.SetScalingAsync(name, scaling, ct));

    private static async Task<Ok<EndpointInfo>> SetCapture(string name, EndpointCapture capture, EndpointService endpoints, CancellationToken ct) =>
        TypedResults.Ok(await endpoints.SetCaptureAsync(name, capture, ct));

    private static async Task<Ok<IReadOnlyList<CapturedRow>>> Captures(string name, int? limit, EndpointService endpoints, RequestCapture capture, Storage.StratusDb db, CancellationToken ct)
    {
        if (limit is < 1 or > 1000) throw ProblemException.Invalid("limit", $"is {limit}; ask for 1 to 1,000 rows");
        await endpoints.GetAsync(name, ct); // 404 for an endpoint that does not exist
        return TypedResults.Ok(await capture.LatestAsync(db, name, limit ?? 100, ct));
    }

    private static async Task<Ok<IReadOnlyList<ShadowRecord>>> Shadow(string name, EndpointService endpoints, ShadowScoring shadows, CancellationToken ct)
    {
        await endpoints.GetAsync(name, ct); // 404 for an endpoint that does not exist
        return TypedResults.Ok(shadows.Records(name));
    }

    private static async Task<Created<RolloutInfo>> StartRollout(string name, RolloutRequest request, RolloutService rollouts, CancellationToken ct) =>
        TypedResults.Created($"/api/v1/endpoints/{Uri.EscapeDataString(name)}/rollout", await rollouts.StartAsync(name, request, ct));

    private static async Task<Ok<RolloutInfo>> GetRollout(string name, RolloutService rollouts, CancellationToken ct) => TypedResults.Ok(await rollouts.GetAsync(name, ct));

    private static async Task<Ok<RolloutInfo>> AbortRollout(string name, RolloutService rollouts, CancellationToken ct) => TypedResults.Ok(await rollouts.AbortAsync(name, ct));

    private static async Task<NoContent> Delete(string name, EndpointService endpoints, CancellationToken ct)
    {
        await endpoints.DeleteAsync(name, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<PredictResponse>> Predict(string name, PredictRequest request, HttpContext context, ModelCache cache, Scorer scorer, CancellationToken ct)
    {
        // Requests to a loaded endpoint from a known token take PredictFastPath; here come the rest (a first request
        // after a start or an unload loads the models).
        var arrived = System.Diagnostics.Stopwatch.GetTimestamp();
        var endpoint = cache.TryGet(name, out var loaded) ? loaded : await context.RequestServices.GetRequiredService<EndpointService>().ResolveAsync(name, ct);
        return TypedResults.Ok(await scorer.ScoreAsync(endpoint, request, context.TraceIdentifier, ct, arrived));
    }

    private static async Task<Ok<IReadOnlyList<TrafficPoint>>> Traffic(string name, EndpointService endpoints, TrafficHistory history, CancellationToken ct)
    {
        await endpoints.GetAsync(name, ct);
        return TypedResults.Ok(history.For(name));
    }

    // Endpoints are named by their keys (project/name outside the default project); another project's do not show.
    private static ContentHttpResult Metrics(ServingMetrics metrics, ModelCache cache, System.Security.Claims.ClaimsPrincipal user) =>
        TypedResults.Text(metrics.Write(cache.Loaded, cache.LoadedBytes, endpoint => ProjectAccess.RoleIn(user, Projects.SplitEndpointKey(endpoint).Project) is not null),
            "text/plain; version=0.0.4; charset=utf-8");
}
