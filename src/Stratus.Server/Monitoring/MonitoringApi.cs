using Microsoft.AspNetCore.Http.HttpResults;
using Stratus.Server.Kernel;
using Stratus.Server.Registry;
using Stratus.Server.Security;

namespace Stratus.Server.Monitoring;

/// <summary>Routes of model baselines and endpoint drift.</summary>
public static class MonitoringApi
{
    /// <summary>The monitoring capability's services: drift and performance checks, policies, feedback, reports and webhooks.</summary>
    public static void AddStratusMonitoring(this IServiceCollection services)
    {
        services.AddScoped<MonitoringService>();
        services.AddScoped<PolicyService>();
        services.AddScoped<MonitoringReports>();
        services.AddScoped<FeedbackService>();
        services.AddSingleton<Webhooks>();
    }

    public static void MapMonitoringApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/api/v1/models/{name}/versions/{version:int}/baseline", Baseline).WithTags("Monitoring").WithName("GetModelBaseline")
            .WithSummary("The version's baseline: its input columns' distributions on the training data and its predictions' on validation rows");
        routes.MapPut("/api/v1/models/{name}/versions/{version:int}/baseline", SetBaseline).WithTags("Monitoring").WithName("SetModelBaseline")
            .WithSummary("Set the version's baseline from a dataset version: its inputs there and its own predictions on those rows (for imported models, or to compare with other data)")
            .RequireAuthorization(Policies.Editor);
        var api = routes.MapGroup("/api/v1/endpoints/{name}/drift").WithTags("Monitoring");
        api.MapPost("/", Check).WithName("CheckDrift")
            .WithSummary("Compare the requests captured in a window (default: the last 60 minutes) with the baseline of the endpoint's main model version, per column and for its predictions; the report is kept")
            .RequireAuthorization(Policies.Editor);
        routes.MapPost("/api/v1/endpoints/{name}/feedback", Feedback).WithTags("Monitoring").WithName("AddFeedback")
            .WithSummary("True labels for captured predictions, by request id (and row): items naming a request not captured or a label the model cannot predict are refused with a 400 listing them; the others are stored")
            .RequireAuthorization(Policies.Editor);
        routes.MapGet("/api/v1/endpoints/{name}/performance", Performance).WithTags("Monitoring").WithName("GetPerformance")
            .WithSummary("The main model version's metrics on labelled predictions, in windows of the last window_minutes (default 1,440) by when they were made, beside its validation metrics");
        var policy = routes.MapGroup("/api/v1/endpoints/{name}/policy").WithTags("Monitoring");
        policy.MapPut("/", SetPolicy).WithName("SetPolicy")
            .WithSummary("Set the endpoint's monitoring policy: its triggers (drift, metric), schedule, retraining, promotion and webhooks")
            .RequireAuthorization(Policies.Editor);
        policy.MapGet("/", GetPolicy).WithName("GetPolicy").WithSummary("The endpoint's monitoring policy and when it is next checked");
        policy.MapDelete("/", DeletePolicy).WithName("DeletePolicy").WithSummary("Remove the endpoint's monitoring policy (its decisions are kept)")
            .RequireAuthorization(Policies.Editor);
        policy.MapPost("/run", RunPolicy).WithName("RunPolicy")
            .WithSummary("Run the policy now: check its triggers and, when one fires, alert and start the retraining; returns the decision")
            .RequireAuthorization(Policies.Editor);
        policy.MapGet("/decisions", Decisions).WithName("GetPolicyDecisions")
            .WithSummary("What the endpoint's policy decided, with the evidence, newest first (limit: 1 to 1,000, default 100)");
        routes.MapGet("/api/v1/endpoints/{name}/report", Report).WithTags("Monitoring").WithName("GetMonitoringReport")
            .WithSummary("The endpoint's monitoring over the last days (default 7): drift per column over time and since when, distributions of the latest window against the baseline, live performance and the policy's decisions");
        api.MapGet("/", History).WithName("GetDriftHistory").WithSummary("The endpoint's drift reports, newest first (limit: 1 to 1,000, default 100)");
    }

    private static async Task<Ok<ModelBaseline>> Baseline(string name, int version, RegistryService registry, MonitoringService monitoring, CancellationToken ct) =>
        TypedResults.Ok(await monitoring.BaselineAsync(await registry.GetVersionAsync(new ModelRef(name, version, null), ct), ct));

    private static async Task<Ok<ModelBaseline>> SetBaseline(string name, int version, SetBaselineRequest request, RegistryService registry, MonitoringService monitoring, CancellationToken ct) =>
        TypedResults.Ok(await monitoring.SetBaselineAsync(await registry.GetVersionAsync(new ModelRef(name, version, null), ct), request, ct));

    private static async Task<Ok<DriftReport>> Check(string name, DriftCheckRequest? request, MonitoringService monitoring, CancellationToken ct) =>
        TypedResults.Ok(await monitoring.CheckDriftAsync(name, request ?? new DriftCheckRequest(), ct));

    private static async Task<Ok<FeedbackResult>> Feedback(string name, FeedbackRequest request, FeedbackService feedback, CancellationToken ct) =>
        TypedResults.Ok(await feedback.AddAsync(name, request, ct));

    private static async Task<Ok<PerformanceReport>> Performance(string name, double? window_minutes, int? buckets, FeedbackService feedback, CancellationToken ct) =>
        TypedResults.Ok(await feedback.PerformanceAsync(name, window_minutes ?? 1440, buckets ?? 24, ct));

    private static async Task<Ok<MonitorPolicyInfo>> SetPolicy(string name, MonitorPolicy policy, PolicyService policies, IGrainFactory grains, CancellationToken ct)
    {
        var info = await policies.SetAsync(name, policy, ct);
        await grains.GetGrain<IPolicyGrain>(name).PokeAsync();
        return TypedResults.Ok(info);
    }

    private static async Task<Ok<MonitorPolicyInfo>> GetPolicy(string name, PolicyService policies, CancellationToken ct) =>
        TypedResults.Ok(await policies.GetAsync(name, ct));

    private static async Task<NoContent> DeletePolicy(string name, PolicyService policies, CancellationToken ct)
    {
        await policies.DeleteAsync(name, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<PolicyDecision>> RunPolicy(string name, PolicyService policies, IGrainFactory grains, CancellationToken ct)
    {
        await policies.GetAsync(name, ct); // 404 here, not through the grain
        var id = await grains.GetGrain<IPolicyGrain>(name).CheckAsync();
        return TypedResults.Ok(await policies.DecisionAsync(id, ct));
    }

    private static async Task<Ok<IReadOnlyList<PolicyDecision>>> Decisions(string name, int? limit, PolicyService policies, CancellationToken ct) =>
        TypedResults.Ok(await policies.DecisionsAsync(name, limit ?? 100, ct));

    private static async Task<Ok<MonitoringReport>> Report(string name, double? days, MonitoringReports reports, CancellationToken ct) =>
        TypedResults.Ok(await reports.ReportAsync(name, days ?? 7, ct));

    private static async Task<Ok<IReadOnlyList<DriftReport>>> History(string name, int? limit, MonitoringService monitoring, CancellationToken ct)
    {
        if (limit is < 1 or > 1000) throw ProblemException.Invalid("limit", $"is {limit}; ask for 1 to 1,000 reports");
        return TypedResults.Ok(await monitoring.HistoryAsync(name, limit ?? 100, ct));
    }
}
