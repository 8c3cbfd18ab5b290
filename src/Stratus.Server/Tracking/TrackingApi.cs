using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Stratus.Server.Security;
using Stratus.Server.Storage;

namespace Stratus.Server.Tracking;

/// <summary>Routes of <c>/api/v1/experiments</c> and <c>/api/v1/runs</c>.</summary>
public static class TrackingApi
{
    /// <summary>The tracking capability's services.</summary>
    public static void AddStratusTracking(this IServiceCollection services) => services.AddScoped<TrackingService>();

    public static void MapTrackingApi(this IEndpointRouteBuilder routes, long maxUploadBytes)
    {
        var experiments = routes.MapGroup("/api/v1/experiments").WithTags("Experiments");
        experiments.MapPost("/", CreateExperiment).WithName("CreateExperiment").WithSummary("Create an experiment").RequireAuthorization(Policies.Editor);
        experiments.MapGet("/", ListExperiments).WithName("ListExperiments").WithSummary("List experiments");
        experiments.MapGet("/{idOrName}", GetExperiment).WithName("GetExperiment").WithSummary("Show an experiment by id or name");

        var runs = routes.MapGroup("/api/v1/runs").WithTags("Runs");
        runs.MapPost("/", CreateRun).WithName("CreateRun").WithSummary("Start a run (the experiment is created if missing)").RequireAuthorization(Policies.Editor);
        runs.MapGet("/", ListRuns).WithName("ListRuns").WithSummary("List runs, newest first, optionally of one experiment or status");
        runs.MapGet("/{id}", GetRun).WithName("GetRun").WithSummary("Show a run");
        runs.MapPatch("/{id}", UpdateRun).WithName("UpdateRun").WithSummary("End a run: FINISHED, FAILED or KILLED").RequireAuthorization(Policies.Editor);
        runs.MapPost("/{id}/heartbeat", Heartbeat).WithName("RunHeartbeat").WithSummary("Tell the server the run's owner is alive").RequireAuthorization(Policies.Editor);
        runs.MapPost("/{id}/params", LogParams).WithName("LogParams").WithSummary("Log params (write-once) and tags").RequireAuthorization(Policies.Editor);
        runs.MapPost("/{id}/metrics", LogMetrics).WithName("LogMetrics").WithSummary("Log a batch of metric points").RequireAuthorization(Policies.Editor)
            .WithMetadata(new CoalescedAuditMetadata());
        runs.MapGet("/{id}/metrics", GetMetrics).WithName("GetMetricHistory").WithSummary("Metric history, optionally of one key");
        runs.MapPost("/{id}/inputs", LogInputs).WithName("LogInputs").WithSummary("Record the dataset versions a run read").RequireAuthorization(Policies.Editor);
        runs.MapGet("/{id}/artifacts", ListArtifacts).WithName("ListArtifacts").WithSummary("List a run's artifacts");
        runs.MapPut("/{id}/artifacts/{**path}", PutArtifact).WithName("PutArtifact").WithSummary("Upload an artifact (raw bytes)")
            .Accepts<Stream>("application/octet-stream")
            .WithMetadata(new RawBodyMetadata(maxUploadBytes))
            .RequireAuthorization(Policies.Editor);
        runs.MapGet("/{id}/artifacts/{**path}", GetArtifact).WithName("DownloadArtifact").WithSummary("Download an artifact; X-Content-SHA256 carries its hash")
            .WithMetadata(new SensitiveReadMetadata());
    }

    private static async Task<Created<ExperimentInfo>> CreateExperiment(CreateExperimentRequest request, TrackingService tracking, CancellationToken ct)
    {
        var e = await tracking.CreateExperimentAsync(request, ct);
        return TypedResults.Created($"/api/v1/experiments/{e.Id}", e);
    }

    private static Task<Page<ExperimentInfo>> ListExperiments(TrackingService tracking, int? page_size, string? page_token, CancellationToken ct) =>
        tracking.ListExperimentsAsync(page_size, page_token, ct);

    private static async Task<Ok<ExperimentInfo>> GetExperiment(string idOrName, TrackingService tracking, CancellationToken ct) =>
        TypedResults.Ok(await tracking.GetExperimentAsync(idOrName, ct));

    private static async Task<Created<RunInfo>> CreateRun(CreateRunRequest request, HttpContext context, TrackingService tracking, CancellationToken ct)
    {
        TrackingService.CheckClientTags(request.Tags);
        var run = await tracking.CreateRunAsync(request, context.User.Actor(), ct);
        return TypedResults.Created($"/api/v1/runs/{run.Id}", run);
    }

    private static Task<Page<RunInfo>> ListRuns(TrackingService tracking, string? experiment, string? status, int? page_size, string? page_token, CancellationToken ct) =>
        tracking.ListRunsAsync(experiment, status, page_size, page_token, ct);

    private static async Task<Ok<RunInfo>> GetRun(string id, TrackingService tracking, CancellationToken ct) =>
        TypedResults.Ok(await tracking.GetRunAsync(id, ct));

    // Every write to a run first checks the writer (TrackingService.CheckWriterAsync).
    private static async Task<Ok<RunInfo>> UpdateRun(string id, UpdateRunRequest request, ClaimsPrincipal user, TrackingService tracking, CancellationToken ct)
    {
        await tracking.CheckWriterAsync(id, user, ct);
        return TypedResults.Ok(await tracking.UpdateRunAsync(id, request, ct));
    }

    private static async Task<NoContent> Heartbeat(string id, ClaimsPrincipal user, TrackingService tracking, CancellationToken ct)
    {
        await tracking.CheckWriterAsync(id, user, ct);
        await tracking.HeartbeatAsync(id, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<RunInfo>> LogParams(string id, LogParamsRequest request, ClaimsPrincipal user, TrackingService tracking, CancellationToken ct)
    {
        await tracking.CheckWriterAsync(id, user, ct);
        TrackingService.CheckClientTags(request.Tags);
        return TypedResults.Ok(await tracking.LogParamsAsync(id, request, ct));
    }

    private static async Task<NoContent> LogMetrics(string id, LogMetricsRequest request, ClaimsPrincipal user, TrackingService tracking, CancellationToken ct)
    {
        await tracking.CheckWriterAsync(id, user, ct);
        await tracking.LogMetricsAsync(id, request, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<IReadOnlyList<MetricPoint>>> GetMetrics(string id, string? key, TrackingService tracking, CancellationToken ct) =>
        TypedResults.Ok(await tracking.GetMetricHistoryAsync(id, key, ct));

    private static async Task<Ok<RunInfo>> LogInputs(string id, LogInputsRequest request, ClaimsPrincipal user, TrackingService tracking, CancellationToken ct)
    {
        await tracking.CheckWriterAsync(id, user, ct);
        return TypedResults.Ok(await tracking.LogInputsAsync(id, request, ct));
    }

    private static async Task<Ok<IReadOnlyList<ArtifactInfo>>> ListArtifacts(string id, TrackingService tracking, CancellationToken ct) =>
        TypedResults.Ok(await tracking.ListArtifactsAsync(id, ct));

    private static async Task<Ok<ArtifactInfo>> PutArtifact(string id, string path, HttpContext context, TrackingService tracking, CancellationToken ct)
    {
        await tracking.CheckWriterAsync(id, context.User, ct);
        return TypedResults.Ok(await tracking.PutArtifactAsync(id, path, context.Request.Body, ct));
    }

    internal static async Task<FileStreamHttpResult> GetArtifact(string id, string path, HttpContext context, TrackingService tracking, IBlobStore blobs, CancellationToken ct)
    {
        var artifact = await tracking.GetArtifactAsync(id, path, ct);
        context.Response.Headers["X-Content-SHA256"] = artifact.Sha256;
        return TypedResults.Stream(await blobs.OpenReadAsync(artifact.Sha256, ct), "application/octet-stream", path.Split('/')[^1]);
    }
}
