using Microsoft.AspNetCore.Http.HttpResults;
using Stratus.Server.Security;

namespace Stratus.Server.Jobs;

/// <summary>Routes of <c>/api/v1/train</c>, <c>/api/v1/automl</c>, <c>/api/v1/batch</c> and <c>/api/v1/jobs</c>.</summary>
public static class JobsApi
{
    /// <summary>
    /// The jobs capability's services: the dispatcher that claims queued jobs and runs them in job processes, and on
    /// an API server (<paramref name="submissions"/>) the service behind the routes.
    /// </summary>
    public static void AddStratusJobs(this IServiceCollection services, bool submissions)
    {
        if (submissions) services.AddScoped<JobService>();
        services.AddSingleton<JobRunner>();
        services.AddSingleton<JobDispatcher>();
        services.AddHostedService(s => s.GetRequiredService<JobDispatcher>());
    }

    public static void MapJobsApi(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/api/v1/train", Train).WithTags("Jobs").WithName("Train")
            .WithSummary("Queue a training job; the request is checked against the dataset first").RequireAuthorization(Policies.Editor);
        routes.MapPost("/api/v1/automl", AutoMl).WithTags("Jobs").WithName("AutoMl")
            .WithSummary("Queue an AutoML search for the best model within a time budget").RequireAuthorization(Policies.Editor);
        routes.MapPost("/api/v1/batch", Batch).WithTags("Jobs").WithName("BatchPredict")
            .WithSummary("Queue a batch inference job: score a dataset version with a model into a new dataset version").RequireAuthorization(Policies.Editor);
        var jobs = routes.MapGroup("/api/v1/jobs").WithTags("Jobs");
        jobs.MapGet("/", List).WithName("ListJobs").WithSummary("List jobs, newest first");
        jobs.MapGet("/{id}", Get).WithName("GetJob").WithSummary("Show a job and its result");
        jobs.MapGet("/{id}/log", Log).WithName("GetJobLog").WithSummary("Log lines after sequence number 'after'");
        jobs.MapPost("/{id}/cancel", Cancel).WithName("CancelJob").WithSummary("Cancel a queued or running job").RequireAuthorization(Policies.Editor);
    }

    private static async Task<Accepted<JobInfo>> Train(TrainRequest request, HttpContext context, JobService jobs, CancellationToken ct)
    {
        await jobs.CheckSubmitterAsync(request.Register, context.User, ct);
        var job = await jobs.SubmitTrainAsync(request, context.User.Actor(), ct);
        return TypedResults.Accepted($"/api/v1/jobs/{job.Id}", job);
    }

    private static async Task<Accepted<JobInfo>> AutoMl(AutoMlRequest request, HttpContext context, JobService jobs, CancellationToken ct)
    {
        await jobs.CheckSubmitterAsync(request.Register, context.User, ct);
        var job = await jobs.SubmitAutoMlAsync(request, context.User.Actor(), ct);
        return TypedResults.Accepted($"/api/v1/jobs/{job.Id}", job);
    }

    private static async Task<Accepted<JobInfo>> Batch(BatchRequest request, HttpContext context, JobService jobs, CancellationToken ct)
    {
        var job = await jobs.SubmitBatchAsync(request, context.User.Actor(), ct);
        return TypedResults.Accepted($"/api/v1/jobs/{job.Id}", job);
    }

    private static Task<Page<JobInfo>> List(JobService jobs, string? status, int? page_size, string? page_token, CancellationToken ct) =>
        jobs.ListAsync(status, page_size, page_token, ct);

    private static async Task<Ok<JobInfo>> Get(string id, JobService jobs, CancellationToken ct) => TypedResults.Ok(await jobs.GetAsync(id, ct));

    private static async Task<Ok<IReadOnlyList<JobLogLine>>> Log(string id, long? after, JobService jobs, CancellationToken ct) =>
        TypedResults.Ok(await jobs.LogAsync(id, after ?? 0, ct));

    private static async Task<Ok<JobInfo>> Cancel(string id, System.Security.Claims.ClaimsPrincipal user, JobService jobs, CancellationToken ct)
    {
        await jobs.CheckCancellerAsync(id, user, ct);
        return TypedResults.Ok(await jobs.CancelAsync(id, ct));
    }
}
