using Microsoft.AspNetCore.Http.HttpResults;
using Stratus.Server.Hosting;
using Stratus.Server.Registry;
using Stratus.Server.Security;

namespace Stratus.Server.Monitoring;

/// <summary>Routes of model baselines and endpoint drift.</summary>
public static class MonitoringApi
{
    public static void MapMonitoringApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/api/v1/models/{name}/versions/{version:int}/baseline", Baseline).WithTags("Monitoring").WithName("GetModelBaseline")
            .WithSummary("The version's baseline: its input columns' distributions on the training data and its predictions' on validation rows");
        var api = routes.MapGroup("/api/v1/endpoints/{name}/drift").WithTags("Monitoring");
        api.MapPost("/", Check).WithName("CheckDrift")
            .WithSummary("Compare the requests captured in a window (default: the last 60 minutes) with the baseline of the endpoint's main model version, per column and for its predictions; the report is kept")
            .RequireAuthorization(Policies.Editor);
        routes.MapPost("/api/v1/endpoints/{name}/feedback", Feedback).WithTags("Monitoring").WithName("AddFeedback")
            .WithSummary("True labels for captured predictions, by request id (and row): items naming a request not captured or a label the model cannot predict are refused with a 400 listing them; the others are stored")
            .RequireAuthorization(Policies.Editor);
        routes.MapGet("/api/v1/endpoints/{name}/performance", Performance).WithTags("Monitoring").WithName("GetPerformance")
            .WithSummary("The main model version's metrics on labelled predictions, in windows of the last window_minutes (default 1,440) by when they were made, beside its validation metrics");
        api.MapGet("/", History).WithName("GetDriftHistory").WithSummary("The endpoint's drift reports, newest first (limit: 1 to 1,000, default 100)");
    }

    private static async Task<Ok<ModelBaseline>> Baseline(string name, int version, RegistryService registry, MonitoringService monitoring, CancellationToken ct) =>
        TypedResults.Ok(await monitoring.BaselineAsync(await registry.GetVersionAsync(new ModelRef(name, version, null), ct), ct));

    private static async Task<Ok<DriftReport>> Check(string name, DriftCheckRequest? request, MonitoringService monitoring, CancellationToken ct) =>
        TypedResults.Ok(await monitoring.CheckDriftAsync(name, request ?? new DriftCheckRequest(), ct));

    private static async Task<Ok<FeedbackResult>> Feedback(string name, FeedbackRequest request, FeedbackService feedback, CancellationToken ct) =>
        TypedResults.Ok(await feedback.AddAsync(name, request, ct));

    private static async Task<Ok<PerformanceReport>> Performance(string name, double? window_minutes, int? buckets, FeedbackService feedback, CancellationToken ct) =>
        TypedResults.Ok(await feedback.PerformanceAsync(name, window_minutes ?? 1440, buckets ?? 24, ct));

    private static async Task<Ok<IReadOnlyList<DriftReport>>> History(string name, int? limit, MonitoringService monitoring, CancellationToken ct)
    {
        if (limit is < 1 or > 1000) throw ProblemException.Invalid("limit", $"is {limit}; ask for 1 to 1,000 reports");
        return TypedResults.Ok(await monitoring.HistoryAsync(name, limit ?? 100, ct));
    }
}
