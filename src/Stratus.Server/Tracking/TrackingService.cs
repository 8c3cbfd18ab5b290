using Microsoft.Extensions.Caching.Memory;
using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Stratus.Server.Datasets;
using Stratus.Server.Kernel;
using Stratus.Server.Security;
using Stratus.Server.Storage;

namespace Stratus.Server.Tracking;

/// <summary>Experiments, runs, params, metrics, inputs and artifacts.</summary>
public sealed class TrackingService(StratusDb db, IBlobStore blobs, DatasetService datasets, IMemoryCache cache, TimeProvider clock)
{
    public const int DefaultHeartbeatTimeoutSeconds = 300;
    private const int MaxValueLength = 8000;

    public async Task<ExperimentInfo> CreateExperimentAsync(CreateExperimentRequest request, CancellationToken ct)
    {
        ProblemException.CheckName("name", request.Name);
        CheckTags("tags", request.Tags);
        if (await db.Experiments.AnyAsync(e => e.Name == request.Name, ct)) throw ProblemException.Conflict($"experiment '{request.Name}' already exists");
        var row = new ExperimentRow { Name = request.Name, Description = request.Description, TagsJson = JsonColumns.Write(request.Tags), CreatedAt = clock.GetUtcNow() };
        db.Experiments.Add(row);
        await db.SaveChangesAsync(ct);
        return ToInfo(row);
    }

    public async Task<Page<ExperimentInfo>> ListExperimentsAsync(int? pageSize, string? pageToken, CancellationToken ct)
    {
        var (offset, size) = Paging.Parse(pageSize, pageToken);
        var rows = await db.Experiments.AsNoTracking().OrderBy(e => e.Id).Skip(offset).Take(size + 1).ToListAsync(ct);
        return Paging.Build(rows.ConvertAll(ToInfo), offset, size);
    }

    /// <summary>Finds an experiment by id (digits) or name.</summary>
    public async Task<ExperimentInfo> GetExperimentAsync(string idOrName, CancellationToken ct) => ToInfo(await FindExperimentAsync(idOrName, ct));

    private async Task<ExperimentRow> FindExperimentAsync(string idOrName, CancellationToken ct)
    {
        var row = long.TryParse(idOrName, out var id)
            ? await db.Experiments.AsNoTracking().FirstOrDefaultAsync(e => e.Id == id, ct)
            : await db.Experiments.AsNoTracking().FirstOrDefaultAsync(e => e.Name == idOrName, ct);
        return row ?? throw ProblemException.NotFound($"experiment '{idOrName}'");
    }

    public async Task<RunInfo> CreateRunAsync(CreateRunRequest request, string? actor, CancellationToken ct)
    {
        ProblemException.CheckName("experiment", request.Experiment);
        if (request.Name is not null) ProblemException.CheckName("name", request.Name);
        CheckTags("params", request.Params);
        CheckTags("tags", request.Tags);
        var timeout = request.HeartbeatTimeoutSeconds ?? DefaultHeartbeatTimeoutSeconds;
        if (timeout is < 1 or > 86_400) throw ProblemException.Invalid("heartbeat_timeout_seconds", "must be between 1 and 86400");

        var experiment = await db.Experiments.FirstOrDefaultAsync(e => e.Name == request.Experiment, ct);
        if (experiment is null)
        {
            experiment = new ExperimentRow { Name = request.Experiment, CreatedAt = clock.GetUtcNow() };
            db.Experiments.Add(experiment);
        }
        var now = clock.GetUtcNow();
        var run = new RunRow
        {
            Id = Guid.CreateVersion7().ToString("N"),
            Experiment = experiment,
            Name = request.Name,
            Status = RunStatus.Running,
            StartTime = now,
            HeartbeatAt = now,
            HeartbeatTimeoutSeconds = timeout,
            CreatedBy = actor,
        };
        db.Runs.Add(run);
        foreach (var (k, v) in request.Params ?? new Dictionary<string, string>()) db.RunParams.Add(new RunParamRow { RunId = run.Id, Key = k, Value = v });
        foreach (var (k, v) in request.Tags ?? new Dictionary<string, string>()) db.RunTags.Add(new RunTagRow { RunId = run.Id, Key = k, Value = v });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException) when (experiment.Id == 0)
        {
            // Another request created the experiment first: use it.
            db.ChangeTracker.Clear();
            return await CreateRunAsync(request, actor, ct);
        }
        return await GetRunAsync(run.Id, ct);
    }

    public async Task<RunInfo> GetRunAsync(string id, CancellationToken ct)
    {
        var run = await db.Runs.AsNoTracking().Include(r => r.Experiment).FirstOrDefaultAsync(r => r.Id == id, ct)
            ?? throw ProblemException.NotFound($"run '{id}'");
        return (await ToInfosAsync([run], ct))[0];
    }

    public async Task<Page<RunInfo>> ListRunsAsync(string? experiment, string? status, int? pageSize, string? pageToken, CancellationToken ct)
    {
        var (offset, size) = Paging.Parse(pageSize, pageToken);
        var query = db.Runs.AsNoTracking().Include(r => r.Experiment).AsQueryable();
        if (experiment is not null)
        {
            var e = await FindExperimentAsync(experiment, ct);
            query = query.Where(r => r.ExperimentId == e.Id);
        }
        if (status is not null)
        {
            if (!RunStatus.All.Contains(status)) throw ProblemException.Invalid("status", $"'{status}' is not one of {string.Join(", ", RunStatus.All)}");
            query = query.Where(r => r.Status == status);
        }
        var rows = await query.OrderByDescending(r => r.StartTime).ThenByDescending(r => r.Id).Skip(offset).Take(size + 1).ToListAsync(ct);
        return Paging.Build(await ToInfosAsync(rows, ct), offset, size);
    }

    /// <summary>
    /// A page of runs for a table: filtered by experiment, status and text (in the name or the id: whole, or the end the
    /// console shows, since ids begin with their time), sorted by
    /// start time, name, status or experiment, with the number of runs that match. Paging happens in the database.
    /// </summary>
    public async Task<(IReadOnlyList<RunInfo> Items, int Total)> SearchRunsAsync(RunSearch search, CancellationToken ct)
    {
        var query = db.Runs.AsNoTracking().Include(r => r.Experiment).AsQueryable();
        if (!string.IsNullOrWhiteSpace(search.Experiment)) query = query.Where(r => r.Experiment.Name == search.Experiment);
        if (!string.IsNullOrWhiteSpace(search.Status)) query = query.Where(r => r.Status == search.Status);
        if (!string.IsNullOrWhiteSpace(search.Text))
        {
            var text = search.Text.Trim();
            query = query.Where(r => (r.Name != null && r.Name.Contains(text)) || r.Id.Contains(text));
        }
        var total = await query.CountAsync(ct);
        var ordered = (search.SortBy, search.Descending) switch
        {
            ("name", false) => query.OrderBy(r => r.Name).ThenBy(r => r.Id),
            ("name", true) => query.OrderByDescending(r => r.Name).ThenByDescending(r => r.Id),
            ("status", false) => query.OrderBy(r => r.Status).ThenByDescending(r => r.StartTime),
            ("status", true) => query.OrderByDescending(r => r.Status).ThenByDescending(r => r.StartTime),
            ("experiment", false) => query.OrderBy(r => r.Experiment.Name).ThenByDescending(r => r.StartTime),
            ("experiment", true) => query.OrderByDescending(r => r.Experiment.Name).ThenByDescending(r => r.StartTime),
            (_, false) => query.OrderBy(r => r.StartTime).ThenBy(r => r.Id),
            _ => query.OrderByDescending(r => r.StartTime).ThenByDescending(r => r.Id),
        };
        var rows = await ordered.Skip(Math.Max(0, search.Offset)).Take(Math.Clamp(search.Size, 1, Paging.MaxSize)).ToListAsync(ct);
        return (await ToInfosAsync(rows, ct), total);
    }

    /// <summary>Ends a run (FINISHED, FAILED or KILLED). Ending an ended run again is refused.</summary>
    /// <summary>The tag that marks a run as a job's: only that job writes to it, and no client may set it.</summary>
    public const string JobTag = "job_id";

    /// <summary>
    /// Refuses a client's write to a run it may not change: a job's run takes writes from its job alone (so nobody can
    /// plant its model package or kill it under it), any other run from its owner or an admin.
    /// </summary>
    /// <exception cref="ProblemException">404 for no such run, 403 for someone else's.</exception>
    /// <remarks>
    /// A run's owner and job never change, so they are read once a minute per run, not on every metric batch (the
    /// ingest path); the caller's role comes from its token, checked on every request as before.
    /// </remarks>
    public async Task CheckWriterAsync(string id, ClaimsPrincipal user, CancellationToken ct)
    {
        var key = ("run-writer", id);
        if (!cache.TryGetValue(key, out (string? CreatedBy, string? Job) run))
        {
            run = await db.Runs.AsNoTracking().Where(r => r.Id == id)
                .Select(r => new ValueTuple<string?, string?>(r.CreatedBy, db.RunTags.Where(t => t.RunId == r.Id && t.Key == JobTag).Select(t => t.Value).FirstOrDefault()))
                .FirstOrDefaultAsync(ct);
            if (run == default && !await db.Runs.AnyAsync(r => r.Id == id, ct)) throw ProblemException.NotFound($"run '{id}'");
            cache.Set(key, run, TimeSpan.FromMinutes(1));
        }
        if (run.Job is { } job) throw new ProblemException(403, "Forbidden", $"run '{id}' belongs to job {job}: only that job writes to it (cancel the job to stop it)");
        Ownership.Check(user, run.CreatedBy, $"run '{id}'");
    }

    /// <summary>Refuses tags a client may not set.</summary>
    public static void CheckClientTags(IReadOnlyDictionary<string, string>? tags)
    {
        if (tags?.ContainsKey(JobTag) == true) throw ProblemException.Invalid($"tags.{JobTag}", "is set by the server for the runs of jobs");
    }

    public async Task<RunInfo> UpdateRunAsync(string id, UpdateRunRequest request, CancellationToken ct)
    {
        var run = await FindRunAsync(id, ct);
        if (request.Status is { } status)
        {
            if (!RunStatus.IsTerminal(status))
                throw ProblemException.Invalid("status", $"'{status}' is not a final state; use {RunStatus.Finished}, {RunStatus.Failed} or {RunStatus.Killed}");
            if (RunStatus.IsTerminal(run.Status)) throw ProblemException.Conflict($"run '{id}' already ended as {run.Status}");
            run.Status = status;
            run.EndTime = clock.GetUtcNow();
            run.FailureReason = status == RunStatus.Finished ? null : request.FailureReason;
        }
        await db.SaveChangesAsync(ct);
        return await GetRunAsync(id, ct);
    }

    public async Task HeartbeatAsync(string id, CancellationToken ct)
    {
        var run = await FindRunAsync(id, ct);
        EnsureRunning(run);
        run.HeartbeatAt = clock.GetUtcNow();
        await db.SaveChangesAsync(ct);
    }

    public async Task<RunInfo> LogParamsAsync(string id, LogParamsRequest request, CancellationToken ct)
    {
        CheckTags("params", request.Params);
        CheckTags("tags", request.Tags);
        var run = await FindRunAsync(id, ct);
        EnsureRunning(run);
        run.HeartbeatAt = clock.GetUtcNow();
        if (request.Params is { Count: > 0 } ps)
        {
            var keys = ps.Keys.ToList();
            var existing = await db.RunParams.Where(p => p.RunId == id && keys.Contains(p.Key)).ToDictionaryAsync(p => p.Key, p => p.Value, ct);
            foreach (var (k, v) in ps)
            {
                if (existing.TryGetValue(k, out var old))
                {
                    if (old != v) throw ProblemException.Conflict($"param '{k}' is already logged as '{old}'; params cannot change (log a tag instead)");
                }
                else
                {
                    db.RunParams.Add(new RunParamRow { RunId = id, Key = k, Value = v });
                }
            }
        }
        if (request.Tags is { Count: > 0 } ts)
        {
            var keys = ts.Keys.ToList();
            var existing = await db.RunTags.Where(t => t.RunId == id && keys.Contains(t.Key)).ToDictionaryAsync(t => t.Key, ct);
            foreach (var (k, v) in ts)
            {
                if (existing.TryGetValue(k, out var row)) row.Value = v;
                else db.RunTags.Add(new RunTagRow { RunId = id, Key = k, Value = v });
            }
        }
        await db.SaveChangesAsync(ct);
        return await GetRunAsync(id, ct);
    }

    /// <summary>Appends metric points in one transaction (<see cref="MetricWriter"/>): the hot path of tracking.</summary>
    public async Task<int> LogMetricsAsync(string id, LogMetricsRequest request, CancellationToken ct)
    {
        if (request.Metrics is null) throw ProblemException.Invalid("metrics", "is required");
        var points = request.Metrics;
        for (var i = 0; i < points.Count; i++)
        {
            var p = points[i];
            if (Names.Validate(p.Key) is { } error) throw ProblemException.Invalid($"metrics[{i}].key", $"'{p.Key}' {error}");
            if (!double.IsFinite(p.Value) && !double.IsNaN(p.Value)) throw ProblemException.Invalid($"metrics[{i}].value", "must be a number");
        }
        var run = await FindRunAsync(id, ct);
        EnsureRunning(run);
        var now = clock.GetUtcNow();
        // The heartbeat only when a tenth of the run's timeout has passed since the last: a batch per millisecond from
        // several writers would otherwise take turns at the run's row, and the reaper needs far less.
        var heartbeat = now - run.HeartbeatAt >= TimeSpan.FromSeconds(run.HeartbeatTimeoutSeconds) / 10;
        await MetricWriter.AppendAsync(db, id, points, now, heartbeat, ct);
        return points.Count;
    }

    public async Task<IReadOnlyList<MetricPoint>> GetMetricHistoryAsync(string id, string? key, CancellationToken ct)
    {
        await FindRunAsync(id, ct);
        var query = db.Metrics.AsNoTracking().Where(m => m.RunId == id);
        if (key is not null) query = query.Where(m => m.Key == key);
        return await query.OrderBy(m => m.Key).ThenBy(m => m.Step).ThenBy(m => m.Timestamp).ThenBy(m => m.Id)
            .Select(m => new MetricPoint(m.Key, m.Value, m.Step, m.Timestamp)).ToListAsync(ct);
    }

    public async Task<RunInfo> LogInputsAsync(string id, LogInputsRequest request, CancellationToken ct)
    {
        if (request.Datasets is not { Count: > 0 }) throw ProblemException.Invalid("datasets", "must name at least one dataset version");
        var run = await FindRunAsync(id, ct);
        EnsureRunning(run);
        for (var i = 0; i < request.Datasets.Count; i++)
        {
            if (!DatasetRef.TryParse(request.Datasets[i], out var reference, out var error)) throw ProblemException.Invalid($"datasets[{i}]", error!);
            var version = await datasets.ResolveAsync(reference, ct);
            if (!await db.RunInputs.AnyAsync(x => x.RunId == id && x.DatasetVersionId == version.Id, ct))
                db.RunInputs.Add(new RunInputRow { RunId = id, DatasetVersionId = version.Id });
        }
        await db.SaveChangesAsync(ct);
        return await GetRunAsync(id, ct);
    }

    /// <summary>Stores an artifact under a run. The path is a key, never a file-system path; the bytes go to the blob store.</summary>
    public async Task<ArtifactInfo> PutArtifactAsync(string id, string path, Stream content, CancellationToken ct)
    {
        if (Names.ValidatePath(path) is { } error) throw ProblemException.Invalid("path", $"'{path}' {error}");
        var run = await FindRunAsync(id, ct);
        EnsureRunning(run);
        var blob = await blobs.PutAsync(content, ct);
        var existing = await db.Artifacts.AsNoTracking().FirstOrDefaultAsync(a => a.RunId == id && a.Path == path, ct);
        if (existing is not null)
        {
            return existing.Sha256 == blob.Sha256
                ? ToInfo(existing)
                : throw ProblemException.Conflict($"artifact '{path}' of run '{id}' already exists with other content; artifacts are immutable");
        }
        var now = clock.GetUtcNow();
        if (!await db.Blobs.AnyAsync(b => b.Sha256 == blob.Sha256, ct)) db.Blobs.Add(new BlobRow { Sha256 = blob.Sha256, Size = blob.Size, CreatedAt = now });
        var row = new ArtifactRow { RunId = id, Path = path, Sha256 = blob.Sha256, Size = blob.Size, CreatedAt = now };
        db.Artifacts.Add(row);
        await db.SaveChangesAsync(ct);
        return ToInfo(row);
    }

    public async Task<IReadOnlyList<ArtifactInfo>> ListArtifactsAsync(string id, CancellationToken ct)
    {
        await FindRunAsync(id, ct);
        var rows = await db.Artifacts.AsNoTracking().Where(a => a.RunId == id).OrderBy(a => a.Path).ToListAsync(ct);
        return rows.ConvertAll(ToInfo);
    }

    public async Task<ArtifactInfo> GetArtifactAsync(string id, string path, CancellationToken ct)
    {
        if (Names.ValidatePath(path) is { } error) throw ProblemException.Invalid("path", $"'{path}' {error}");
        var row = await db.Artifacts.AsNoTracking().FirstOrDefaultAsync(a => a.RunId == id && a.Path == path, ct)
            ?? throw ProblemException.NotFound($"artifact '{path}' of run '{id}'");
        return ToInfo(row);
    }

    /// <summary>Marks RUNNING runs whose heartbeat is overdue as FAILED; returns how many.</summary>
    public async Task<int> FailStaleRunsAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var running = await db.Runs.Where(r => r.Status == RunStatus.Running).ToListAsync(ct);
        var stale = running.Where(r => r.HeartbeatAt.AddSeconds(r.HeartbeatTimeoutSeconds) < now).ToList();
        foreach (var run in stale)
        {
            run.Status = RunStatus.Failed;
            run.EndTime = now;
            run.FailureReason = $"no heartbeat for {run.HeartbeatTimeoutSeconds} s: the process that owned the run stopped";
        }
        if (stale.Count > 0) await db.SaveChangesAsync(ct);
        return stale.Count;
    }

    internal async Task<RunRow> FindRunAsync(string id, CancellationToken ct)
    {
        if (!Names.IsLowerHex(id, 32)) throw ProblemException.Invalid("run_id", $"'{id}' is not a run id");
        return await db.Runs.FirstOrDefaultAsync(r => r.Id == id, ct) ?? throw ProblemException.NotFound($"run '{id}'");
    }

    private static void EnsureRunning(RunRow run)
    {
        if (run.Status != RunStatus.Running) throw ProblemException.Conflict($"run '{run.Id}' has ended ({run.Status}); it takes no more data");
    }

    private static void CheckTags(string field, IReadOnlyDictionary<string, string>? values)
    {
        if (values is null) return;
        foreach (var (k, v) in values)
        {
            if (Names.Validate(k) is { } error) throw ProblemException.Invalid($"{field}.{k}", $"key {error}");
            if (v is null) throw ProblemException.Invalid($"{field}.{k}", "value must not be null");
            if (v.Length > MaxValueLength) throw ProblemException.Invalid($"{field}.{k}", $"value must be at most {MaxValueLength} characters");
        }
    }

    private async Task<List<RunInfo>> ToInfosAsync(List<RunRow> runs, CancellationToken ct)
    {
        var ids = runs.ConvertAll(r => r.Id);
        var ps = await db.RunParams.AsNoTracking().Where(p => ids.Contains(p.RunId)).ToListAsync(ct);
        var ts = await db.RunTags.AsNoTracking().Where(t => ids.Contains(t.RunId)).ToListAsync(ct);
        var inputs = await db.RunInputs.AsNoTracking().Where(i => ids.Contains(i.RunId))
            .Join(db.DatasetVersions.Include(v => v.Dataset), i => i.DatasetVersionId, v => v.Id,
                (i, v) => new { i.RunId, Input = new RunInput(v.Dataset.Name, v.Version, v.SourceSha256) })
            .ToListAsync(ct);
        // Latest value per key: the point with the highest step, then the newest.
        var latest = await db.Metrics.AsNoTracking().Where(m => ids.Contains(m.RunId))
            .GroupBy(m => new { m.RunId, m.Key })
            .Select(g => g.OrderByDescending(m => m.Step).ThenByDescending(m => m.Timestamp).ThenByDescending(m => m.Id).First())
            .ToListAsync(ct);
        return runs.ConvertAll(r => new RunInfo(
            r.Id, r.ExperimentId, r.Experiment.Name, r.Name, r.Status, r.StartTime, r.EndTime, r.HeartbeatAt, r.HeartbeatTimeoutSeconds, r.FailureReason,
            ps.Where(p => p.RunId == r.Id).ToDictionary(p => p.Key, p => p.Value),
            ts.Where(t => t.RunId == r.Id).ToDictionary(t => t.Key, t => t.Value),
            inputs.Where(i => i.RunId == r.Id).Select(i => i.Input).ToList(),
            latest.Where(m => m.RunId == r.Id).ToDictionary(m => m.Key, m => m.Value)));
    }

    private static ExperimentInfo ToInfo(ExperimentRow r) => new(r.Id, r.Name, r.Description, JsonColumns.ReadTags(r.TagsJson), r.CreatedAt);

    private static ArtifactInfo ToInfo(ArtifactRow r) => new(r.Path, r.Sha256, r.Size, r.CreatedAt);
}

/// <summary>What the console's run table asks for: filters, a sort (start_time, name, status, experiment) and a page.</summary>
public sealed record RunSearch(string? Experiment = null, string? Status = null, string? Text = null, string SortBy = "start_time", bool Descending = true, int Offset = 0, int Size = 50);
