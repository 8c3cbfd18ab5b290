using Microsoft.EntityFrameworkCore;
using Stratus.Server.Storage;

namespace Stratus.Server.Jobs;

/// <summary>
/// This node's side of the job queue, on every node with worker slots (servers and <c>stratus worker</c> alike): it
/// claims queued jobs, oldest first, while it has free slots — through the database, where only one node wins each
/// QUEUED -> RUNNING change and the claim gets the next epoch — and hands them to the <see cref="JobRunner"/>. It also
/// resumes jobs whose claim's lease ran out (a dead worker). Nothing here needs a cluster singleton: any number of
/// nodes may dispatch at once. It runs every <see cref="JobSettings.JobPollInterval"/>, and at once when poked
/// (a submission on this node, a slot freed).
/// </summary>
public sealed partial class JobDispatcher : BackgroundService
{
    private readonly IServiceScopeFactory _scopes;
    private readonly JobRunner _runner;
    private readonly JobSettings _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<JobDispatcher> _logger;
    private readonly SemaphoreSlim _poked = new(0, 1);

    public JobDispatcher(IServiceScopeFactory scopes, JobRunner runner, JobSettings options, TimeProvider clock, ILogger<JobDispatcher> logger)
    {
        (_scopes, _runner, _options, _clock, _logger) = (scopes, runner, options, clock, logger);
        runner.SlotFreed += Poke;
    }

    /// <summary>Dispatches now rather than at the next poll.</summary>
    public void Poke()
    {
        try
        {
            if (_poked.CurrentCount == 0) _poked.Release();
        }
        catch (SemaphoreFullException)
        {
            // already poked
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await DispatchAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // The database away, or a bug: the next round tries again.
                LogFailed(_logger, ex);
            }
            try
            {
                await _poked.WaitAsync(_options.JobPollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// At start, before any job runs: jobs left RUNNING by a process of this machine that is gone (this node before a
    /// crash, or its job process) are queued again at once (up to <see cref="JobSettings.JobRestartAttempts"/> times)
    /// or failed, and their runs are marked FAILED. Jobs of other machines' nodes, and of processes still alive, are
    /// left to their leases: the scheduler resumes them when a lease runs out.
    /// </summary>
    public async Task<int> RecoverAsync(CancellationToken ct)
    {
        await using var scope = _scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
        var running = await db.Jobs.Where(j => j.Status == JobStatus.Running).ToListAsync(ct);
        var interrupted = running.Where(j => IsDeadLocalProcess(j.Worker)).ToList();
        var now = _clock.GetUtcNow();
        foreach (var job in interrupted)
        {
            if (job.RunId is { } runId)
            {
                await db.Runs.Where(r => r.Id == runId && r.Status == RunStatus.Running).ExecuteUpdateAsync(s => s
                    .SetProperty(r => r.Status, RunStatus.Failed)
                    .SetProperty(r => r.EndTime, now)
                    .SetProperty(r => r.FailureReason, "the server stopped during training"), ct);
            }
            var again = job.Attempts <= _options.JobRestartAttempts;
            job.Status = again ? JobStatus.Queued : JobStatus.Failed;
            job.RunId = again ? null : job.RunId;
            job.EndedAt = again ? null : now;
            job.Error = again ? null : $"interrupted by {job.Attempts} server restarts";
            job.LeaseExpiresAt = null;
            db.JobLog.Add(new JobLogRow { JobId = job.Id, Time = now, Line = again ? "the server restarted during the job: queued again" : job.Error! });
        }
        await db.SaveChangesAsync(ct);
        return interrupted.Count;
    }

    /// <summary>Whether <paramref name="worker"/> (<c>host/pid</c>) names a process of this machine that no longer runs.</summary>
    private static bool IsDeadLocalProcess(string? worker)
    {
        // Rows from before job processes (no worker) were this single node's own.
        if (worker is null) return true;
        var slash = worker.LastIndexOf('/');
        if (slash < 0 || worker[..slash] != Environment.MachineName || !int.TryParse(worker[(slash + 1)..], out var pid)) return false;
        // A zombie (dead, not yet reaped: an orphan under a PID 1 that does not reap) is dead too.
        var stat = $"/proc/{pid}/stat";
        try
        {
            var text = File.ReadAllText(stat);
            return text[(text.LastIndexOf(')') + 2)] is 'Z' or 'X';
        }
        catch (IOException)
        {
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>One round: resume expired claims, then claim queued jobs while slots are free.</summary>
    public async Task DispatchAsync(CancellationToken ct)
    {
        await using var scope = _scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
        await ResumeExpiredAsync(db, ct);
        while (_runner.FreeSlots > 0)
        {
            var next = await db.Jobs.AsNoTracking().Where(j => j.Status == JobStatus.Queued).OrderBy(j => j.CreatedAt).ThenBy(j => j.Id)
                .Select(j => new { j.Id, j.MaxRunSeconds, j.Kind, j.SpecJson, j.Epoch }).FirstOrDefaultAsync(ct);
            if (next is null) return;
            // The first lease covers the job process's start; from then on the process renews it every 500 ms.
            var now = _clock.GetUtcNow();
            var epoch = next.Epoch + 1;
            var firstLease = now + TimeSpan.FromTicks(Math.Max(_options.JobLease.Ticks * 3, TimeSpan.FromMinutes(1).Ticks));
            var claimed = await db.Jobs.Where(j => j.Id == next.Id && j.Status == JobStatus.Queued && j.Epoch == next.Epoch).ExecuteUpdateAsync(s => s
                .SetProperty(j => j.Status, JobStatus.Running)
                .SetProperty(j => j.StartedAt, now)
                .SetProperty(j => j.Attempts, j => j.Attempts + 1)
                .SetProperty(j => j.Epoch, epoch)
                .SetProperty(j => j.LeaseExpiresAt, firstLease)
                .SetProperty(j => j.Worker, JobRunner.Me)
                .SetProperty(j => j.CancelRequested, false), ct);
            if (claimed == 1) _runner.Start(next.Id, epoch, next.MaxRunSeconds, WantedSlots(next.Kind, next.SpecJson));
        }
    }

    /// <summary>Slots a job asks for: an AutoML search its trials side by side (as many as free unless it says), anything else one.</summary>
    private static int WantedSlots(string kind, string spec) =>
        kind == JobService.AutoMlKind ? System.Text.Json.JsonSerializer.Deserialize(spec, StratusJsonContext.Default.AutoMlRequest)?.Parallel ?? int.MaxValue : 1;

    /// <summary>
    /// Jobs whose claim's lease ran out (their process or its node died, or lost the database) are queued again, up to
    /// <see cref="JobSettings.JobRestartAttempts"/> times: an AutoML search goes on from its completed trials. The
    /// process of the old claim, if it still runs, finds itself fenced at its next heartbeat and writes nothing.
    /// </summary>
    private async Task ResumeExpiredAsync(StratusDb db, CancellationToken ct)
    {
        var now = _clock.GetUtcNow();
        var expired = await db.Jobs.AsNoTracking().Where(j => j.Status == JobStatus.Running && j.LeaseExpiresAt != null && j.LeaseExpiresAt < now)
            .Select(j => new { j.Id, j.Epoch, j.Attempts, j.RunId, j.Worker }).ToListAsync(ct);
        foreach (var job in expired)
        {
            var again = job.Attempts <= _options.JobRestartAttempts;
            var error = $"its worker ({job.Worker}) stopped answering {job.Attempts} time{(job.Attempts == 1 ? "" : "s")}";
            var moved = await db.Jobs.Where(j => j.Id == job.Id && j.Status == JobStatus.Running && j.Epoch == job.Epoch).ExecuteUpdateAsync(s => s
                .SetProperty(j => j.Status, again ? JobStatus.Queued : JobStatus.Failed)
                .SetProperty(j => j.RunId, j => again ? null : j.RunId)
                .SetProperty(j => j.EndedAt, again ? null : now)
                .SetProperty(j => j.Error, again ? null : error)
                .SetProperty(j => j.LeaseExpiresAt, (DateTimeOffset?)null), ct);
            if (moved == 0) continue;
            await JobOutcome.FailRunAsync(db, job.RunId, now, $"its worker ({job.Worker}) stopped answering");
            db.JobLog.Add(new JobLogRow { JobId = job.Id, Time = now, Line = again ? $"{error}: queued again" : $"failed: {error}" });
            await db.SaveChangesAsync(ct);
            LogResumed(_logger, job.Id, job.Worker);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: its worker {Worker} stopped answering; the job is queued again")]
    private static partial void LogResumed(ILogger logger, string jobId, string? worker);

    [LoggerMessage(Level = LogLevel.Error, Message = "Dispatching jobs failed; the next round tries again")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
