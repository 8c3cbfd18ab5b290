using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Stratus.Ml.AutoMl;
using Stratus.Ml.Data;
using Stratus.Ml.Training;
using Stratus.Server.Datasets;
using Stratus.Server.Kernel;
using Stratus.Server.Registry;
using Stratus.Server.Storage;

namespace Stratus.Server.Jobs;

/// <summary>Submits, lists and cancels jobs. The jobs table is the system of record; each node's JobDispatcher claims from it.</summary>
public sealed class JobService(StratusDb db, DatasetService datasets, RegistryService registry, IBlobStore blobs, Serving.ModelCache models, JobRunner runner, JobDispatcher dispatcher, TimeProvider clock)
{
    public const string TrainKind = "train";
    public const string AutoMlKind = "automl";
    public const string BatchKind = "batch";

    /// <summary>Checks a batch inference request (model, dataset, output name), pins the model and dataset versions, and queues it.</summary>
    public async Task<JobInfo> SubmitBatchAsync(BatchRequest request, string? actor, CancellationToken ct)
    {
        if (!ModelRef.TryParse(request.Model, out var modelRef, out var modelError)) throw ProblemException.Invalid("model", modelError!);
        if (!DatasetRef.TryParse(request.Dataset, out var datasetRef, out var datasetError)) throw ProblemException.Invalid("dataset", datasetError!);
        var output = request.Output ?? $"{datasetRef.Name}-predictions";
        ProblemException.CheckName("output", output);
        if (request.MaxRunSeconds is < 1 or > 7 * 86_400) throw ProblemException.Invalid("max_run_seconds", "must be between 1 and 604800");
        if (request.Retries is < 0 or > 5) throw ProblemException.Invalid("retries", "must be between 0 and 5");
        ModelVersionInfo model;
        try
        {
            model = await registry.GetVersionAsync(modelRef, ct);
        }
        catch (ProblemException ex) when (ex.Status == 404)
        {
            throw ProblemException.Invalid("model", ex.Message);
        }
        DatasetVersionRow version;
        try
        {
            version = await datasets.ResolveAsync(datasetRef, ct);
        }
        catch (ProblemException ex) when (ex.Status == 404)
        {
            throw ProblemException.Invalid("dataset", ex.Message);
        }
        // A model that needs a column the dataset lacks fails here, not after the job started.
        var manifest = await models.ManifestAsync(blobs, model.Sha256, ct);
        var columns = DatasetService.ProfileOf(version).ToDictionary(c => c.Name, c => c.Type, StringComparer.Ordinal);
        foreach (var input in manifest.Inputs)
        {
            if (!columns.TryGetValue(input.Name, out var type))
                throw ProblemException.Invalid("dataset", $"{datasetRef.Name}:{version.Version} has no column '{input.Name}', which {model.Name}:{model.Version} needs (it reads {string.Join(", ", manifest.Inputs.Select(i => i.Name))})");
            if (type == "VARCHAR" && input.Type is not ("VARCHAR" or "DATE" or "TIMESTAMP" or "TIMESTAMP WITH TIME ZONE"))
                throw ProblemException.Invalid("dataset", $"column '{input.Name}' of {datasetRef.Name}:{version.Version} holds text; {model.Name}:{model.Version} reads it as {input.Type}");
        }
        var pinned = request with { Model = $"{model.Name}:{model.Version}", Dataset = $"{datasetRef.Name}:{version.Version}", Output = output };
        var row = NewJob(BatchKind, JsonSerializer.Serialize(pinned, StratusJsonContext.Default.BatchRequest), request.MaxRunSeconds ?? 3600, request.Retries ?? 1, actor);
        return await QueueAsync(row, $"queued: batch inference of {pinned.Dataset} ({version.Rows:N0} rows) with {pinned.Model} into {output}", ct);
    }

    /// <summary>Checks an AutoML request against the dataset (target, features, metric) and queues it.</summary>
    public async Task<JobInfo> SubmitAutoMlAsync(AutoMlRequest request, string? actor, CancellationToken ct)
    {
        var (reference, task) = CheckCommon(request.Dataset, request.Target, request.Task, request.Register, request.Experiment, request.Folds);
        if (request.BudgetSeconds is < 5 or > 86_400) throw ProblemException.Invalid("budget_seconds", "must be between 5 and 86400");
        if (request.Parallel is < 1 or > 64) throw ProblemException.Invalid("parallel", "must be between 1 and 64");
        var (pinned, planned, profile) = await PlanAsync(reference, new TrainOptions { Target = request.Target, Task = task, Exclude = request.Exclude ?? [] }, ct);
        try
        {
            AutoMlMetrics.Resolve(request.Metric, planned);
        }
        catch (DataFormatException ex)
        {
            throw ProblemException.Invalid("metric", ex.Message);
        }
        // A search that cannot end with a model is refused now, not after its budget is spent.
        if (AutoMlSearch.Refusal(profile, new AutoMlOptions
            {
                Target = request.Target, Task = planned, Budget = TimeSpan.FromSeconds(request.BudgetSeconds), Exclude = request.Exclude ?? [], Folds = request.Folds ?? 0,
            }) is { } refused)
        {
            throw ProblemException.Invalid(refused.Field, refused.Reason);
        }
        // The search keeps to its budget; the job's hard limit only catches a search that does not.
        var row = NewJob(AutoMlKind, JsonSerializer.Serialize(request with { Dataset = pinned.ToString() }, StratusJsonContext.Default.AutoMlRequest),
            request.BudgetSeconds * 2 + 120, 1, actor);
        return await QueueAsync(row, $"queued: automl on {pinned}, target '{request.Target}', budget {request.BudgetSeconds} s", ct);
    }

    /// <summary>Checks a training request against the dataset (target, features, trainer) and queues it; a bad request fails here, before any work.</summary>
    public async Task<JobInfo> SubmitTrainAsync(TrainRequest request, string? actor, CancellationToken ct)
    {
        var (reference, task) = CheckCommon(request.Dataset, request.Target, request.Task, request.Register, request.Experiment, request.Folds);
        var trainer = request.Trainer ?? "lightgbm";
        if (!ModelTrainer.Trainers.Contains(trainer)) throw ProblemException.Invalid("trainer", $"'{trainer}' is not one of {string.Join(", ", ModelTrainer.Trainers)}");
        if (request.MaxRunSeconds is < 1 or > 7 * 86_400) throw ProblemException.Invalid("max_run_seconds", "must be between 1 and 604800");
        if (request.Retries is < 0 or > 5) throw ProblemException.Invalid("retries", "must be between 0 and 5");
        if (request.Iterations is < 1 or > 100_000) throw ProblemException.Invalid("iterations", "must be between 1 and 100000");
        if (request.EarlyStoppingRounds is < 1 or > 10_000) throw ProblemException.Invalid("early_stopping_rounds", "must be between 1 and 10000");
        if (request.EarlyStoppingRounds is not null && trainer != "lightgbm") throw ProblemException.Invalid("early_stopping_rounds", $"applies to lightgbm, not {trainer}");
        var (pinned, _, _) = await PlanAsync(reference, ToOptions(request with { Trainer = trainer }, task), ct);
        var row = NewJob(TrainKind, JsonSerializer.Serialize(request with { Dataset = pinned.ToString(), Trainer = trainer }, StratusJsonContext.Default.TrainRequest),
            request.MaxRunSeconds ?? 3600, request.Retries ?? 1, actor);
        return await QueueAsync(row, $"queued: train {trainer} on {pinned}, target '{request.Target}'", ct);
    }

    /// <summary>What every training request must get right before the dataset is even looked at.</summary>
    private static (DatasetRef Reference, MlTask? Task) CheckCommon(string dataset, string target, string? task, string? register, string? experiment, int? folds)
    {
        if (!DatasetRef.TryParse(dataset, out var reference, out var refError)) throw ProblemException.Invalid("dataset", refError!);
        if (string.IsNullOrWhiteSpace(target)) throw ProblemException.Invalid("target", "is required");
        MlTask? parsed;
        try
        {
            parsed = MlTasks.Parse(task);
        }
        catch (DataFormatException ex)
        {
            throw ProblemException.Invalid("task", ex.Message);
        }
        if (register is not null) ProblemException.CheckName("register", register);
        if (experiment is not null) ProblemException.CheckName("experiment", experiment);
        if (folds is < 0 or 1 or > 20) throw ProblemException.Invalid("folds", "must be 0 (automatic) or between 2 and 20");
        return (reference, parsed);
    }

    /// <summary>Pins the dataset version and plans the training against its profile: a target or features that do not fit fail here.</summary>
    private async Task<(DatasetRef Pinned, MlTask Task, IReadOnlyList<ColumnProfile> Profile)> PlanAsync(DatasetRef reference, TrainOptions options, CancellationToken ct)
    {
        var version = await datasets.ResolveAsync(reference, ct);
        var profile = DatasetService.ProfileOf(version);
        try
        {
            return (new DatasetRef(reference.Name, version.Version), ModelTrainer.Plan(profile, options).Task, profile);
        }
        catch (DataFormatException ex)
        {
            throw ProblemException.Invalid("target", ex.Message);
        }
    }

    private JobRow NewJob(string kind, string spec, int maxRunSeconds, int retries, string? actor) => new()
    {
        Id = Guid.CreateVersion7().ToString("N"),
        Kind = kind,
        Status = JobStatus.Queued,
        SpecJson = spec,
        MaxRunSeconds = maxRunSeconds,
        Retries = retries,
        CreatedAt = clock.GetUtcNow(),
        CreatedBy = actor,
    };

    private async Task<JobInfo> QueueAsync(JobRow row, string line, CancellationToken ct)
    {
        db.Jobs.Add(row);
        db.JobLog.Add(new JobLogRow { JobId = row.Id, Time = row.CreatedAt, Line = line });
        await db.SaveChangesAsync(ct);
        dispatcher.Poke();
        return ToInfo(row);
    }

    internal static TrainOptions ToOptions(TrainRequest r, MlTask? task) => new()
    {
        Target = r.Target,
        Task = task,
        Trainer = r.Trainer ?? "lightgbm",
        Seed = r.Seed ?? 42,
        Iterations = r.Iterations ?? 100,
        Folds = r.Folds ?? 0,
        EarlyStoppingRounds = r.EarlyStoppingRounds ?? 0,
        Exclude = r.Exclude ?? [],
    };

    public async Task<JobInfo> GetAsync(string id, CancellationToken ct) => ToInfo(await FindAsync(id, ct));

    public async Task<Page<JobInfo>> ListAsync(string? status, int? pageSize, string? pageToken, CancellationToken ct)
    {
        var (offset, size) = Paging.Parse(pageSize, pageToken);
        var query = db.Jobs.AsNoTracking();
        if (status is not null) query = query.Where(j => j.Status == status);
        var rows = await query.OrderByDescending(j => j.CreatedAt).ThenByDescending(j => j.Id).Skip(offset).Take(size + 1).ToListAsync(ct);
        return Paging.Build(rows.ConvertAll(ToInfo), offset, size);
    }

    public async Task<IReadOnlyList<JobLogLine>> LogAsync(string id, long after, CancellationToken ct)
    {
        await FindAsync(id, ct);
        return await db.JobLog.AsNoTracking().Where(l => l.JobId == id && l.Id > after).OrderBy(l => l.Id)
            .Select(l => new JobLogLine(l.Id, l.Time, l.Line)).ToListAsync(ct);
    }

    /// <summary>Cancels a queued job at once, or asks a running one to stop; ending a job that has ended is refused.</summary>
    /// <summary>Refuses a client's job that would register a version of someone else's model.</summary>
    public async Task CheckSubmitterAsync(string? register, System.Security.Claims.ClaimsPrincipal user, CancellationToken ct)
    {
        if (register is not null) await registry.CheckOwnerAsync(register, user, ct);
    }

    /// <summary>Refuses a client's cancel of someone else's job (an admin may).</summary>
    public async Task CheckCancellerAsync(string id, System.Security.Claims.ClaimsPrincipal user, CancellationToken ct) =>
        Security.Ownership.Check(user, (await FindAsync(id, ct)).CreatedBy, $"job '{id}'");

    public async Task<JobInfo> CancelAsync(string id, CancellationToken ct)
    {
        var job = await FindAsync(id, ct);
        if (JobStatus.IsTerminal(job.Status)) throw ProblemException.Conflict($"job '{id}' has already ended ({job.Status})");
        var now = clock.GetUtcNow();
        var cancelledWhileQueued = await db.Jobs.Where(j => j.Id == id && j.Status == JobStatus.Queued)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, JobStatus.Cancelled).SetProperty(j => j.EndedAt, now).SetProperty(j => j.Error, "cancelled before it started"), ct);
        if (cancelledWhileQueued == 0)
        {
            // Wherever it runs, its process sees this within a second, stops, and ends the job CANCELLED.
            await db.Jobs.Where(j => j.Id == id && j.Status == JobStatus.Running).ExecuteUpdateAsync(s => s.SetProperty(j => j.CancelRequested, true), ct);
            runner.Cancel(id);
        }
        db.JobLog.Add(new JobLogRow { JobId = id, Time = now, Line = "cancel requested" });
        await db.SaveChangesAsync(ct);
        return await GetAsync(id, ct);
    }

    private async Task<JobRow> FindAsync(string id, CancellationToken ct)
    {
        if (!Names.IsLowerHex(id, 32)) throw ProblemException.Invalid("job_id", $"'{id}' is not a job id");
        return await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == id, ct) ?? throw ProblemException.NotFound($"job '{id}'");
    }

    internal static JobInfo ToInfo(JobRow j) => new(
        j.Id, j.Kind, j.Status, j.RunId, j.Attempts, j.CreatedAt, j.StartedAt, j.EndedAt, j.Error,
        j.ResultJson is null || j.Kind == BatchKind ? null : JsonSerializer.Deserialize(j.ResultJson, StratusJsonContext.Default.TrainResultInfo),
        j.ResultJson is null || j.Kind != BatchKind ? null : JsonSerializer.Deserialize(j.ResultJson, StratusJsonContext.Default.BatchResultInfo));
}
