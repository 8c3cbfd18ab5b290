using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Stratus.Ml.Data;
using Stratus.Server.Hosting;
using Stratus.Server.Storage;

namespace Stratus.Server.Jobs;

/// <summary>
/// The worker slots of this process. Each job runs on a thread-pool thread, never on the Orleans scheduler, with a
/// token that a cancel request or the job's time limit trips; its outcome is written to the jobs table.
/// </summary>
public sealed partial class JobRunner(IServiceScopeFactory scopes, IGrainFactory grains, IOptions<StratusOptions> options, TimeProvider clock, ILogger<JobRunner> logger)
{
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _running = new();
    // Slots a running job holds beyond its own (AutoML's parallel trials).
    private readonly ConcurrentDictionary<string, int> _extraSlots = new();
    private readonly Lock _slots = new();

    /// <summary>Slots not taken by a running job.</summary>
    public int FreeSlots
    {
        get
        {
            lock (_slots) return Math.Max(0, options.Value.WorkerSlots - _running.Count - _extraSlots.Values.Sum());
        }
    }

    /// <summary>Starts a job the scheduler has claimed (status RUNNING): it takes one slot.</summary>
    public void Start(string jobId, int maxRunSeconds)
    {
        var cts = new CancellationTokenSource(TimeSpan.FromSeconds(maxRunSeconds));
        bool added;
        lock (_slots) added = _running.TryAdd(jobId, cts);
        if (!added)
        {
            cts.Dispose();
            return;
        }
        _ = Task.Run(() => ExecuteAsync(jobId, cts));
    }

    /// <summary>
    /// Lets a running job take up to <paramref name="wanted"/> slots in all (its own included) from those free now;
    /// they are released when the job ends. Returns how many it holds.
    /// </summary>
    public int Claim(string jobId, int wanted)
    {
        lock (_slots)
        {
            if (!_running.ContainsKey(jobId)) return 1;
            var free = options.Value.WorkerSlots - _running.Count - _extraSlots.Where(s => s.Key != jobId).Sum(s => s.Value);
            var extra = Math.Clamp(wanted - 1, 0, Math.Max(0, free));
            _extraSlots[jobId] = extra;
            return 1 + extra;
        }
    }

    /// <summary>Asks a job running here to stop; false when it does not run here.</summary>
    public bool Cancel(string jobId)
    {
        if (!_running.TryGetValue(jobId, out var cts)) return false;
        cts.Cancel();
        return true;
    }

    private async Task ExecuteAsync(string jobId, CancellationTokenSource cts)
    {
        var ct = cts.Token;
        string status;
        string? error = null;
        string? result = null;
        var transient = false;
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var kind = await scope.ServiceProvider.GetRequiredService<StratusDb>().Jobs.Where(j => j.Id == jobId).Select(j => j.Kind).FirstAsync(ct);
            result = kind == JobService.BatchKind
                ? JsonSerializer.Serialize(await scope.ServiceProvider.GetRequiredService<BatchJobExecutor>().RunAsync(jobId, line => LogAsync(jobId, line), ct), StratusJsonContext.Default.BatchResultInfo)
                : JsonSerializer.Serialize(await scope.ServiceProvider.GetRequiredService<TrainJobExecutor>().RunAsync(jobId, line => LogAsync(jobId, line), ct), StratusJsonContext.Default.TrainResultInfo);
            status = JobStatus.Succeeded;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            status = JobStatus.Cancelled;
            error = "cancelled (on request, or past its time limit)";
        }
        catch (Exception ex) when (ex is DataFormatException or ProblemException or InvalidDataException)
        {
            status = JobStatus.Failed;
            error = ex.Message;
        }
        catch (Exception ex)
        {
            // Not the input's fault (storage, memory, a bug): worth another attempt. Details stay in the server log.
            status = JobStatus.Failed;
            error = $"internal error ({ex.GetType().Name}); the server log has the details";
            transient = true;
            LogJobCrashed(logger, ex, jobId);
        }
        finally
        {
            lock (_slots)
            {
                _running.TryRemove(jobId, out _);
                _extraSlots.TryRemove(jobId, out _);
            }
            cts.Dispose();
        }
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
            var now = clock.GetUtcNow();
            var job = await db.Jobs.AsNoTracking().FirstAsync(j => j.Id == jobId);
            if (transient && job.Attempts <= job.Retries)
            {
                await db.Jobs.Where(j => j.Id == jobId && j.Status == JobStatus.Running).ExecuteUpdateAsync(s => s
                    .SetProperty(j => j.Status, JobStatus.Queued)
                    .SetProperty(j => j.RunId, (string?)null));
                db.JobLog.Add(new JobLogRow { JobId = jobId, Time = now, Line = $"attempt {job.Attempts} failed: {error}; trying again" });
            }
            else
            {
                await db.Jobs.Where(j => j.Id == jobId && j.Status == JobStatus.Running).ExecuteUpdateAsync(s => s
                    .SetProperty(j => j.Status, status)
                    .SetProperty(j => j.EndedAt, now)
                    .SetProperty(j => j.Error, error)
                    .SetProperty(j => j.ResultJson, result));
                db.JobLog.Add(new JobLogRow { JobId = jobId, Time = now, Line = error is null ? status.ToLowerInvariant() : $"{status.ToLowerInvariant()}: {error}" });
            }
            await db.SaveChangesAsync();
            await grains.GetGrain<IJobSchedulerGrain>(0).PokeAsync(); // a slot is free
        }
        catch (Exception ex)
        {
            LogOutcomeLost(logger, ex, jobId);
        }
    }

    private async Task LogAsync(string jobId, string line)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
        db.JobLog.Add(new JobLogRow { JobId = jobId, Time = clock.GetUtcNow(), Line = line });
        await db.SaveChangesAsync();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} crashed")]
    private static partial void LogJobCrashed(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not record the outcome of job {JobId}; it will be recovered at the next start")]
    private static partial void LogOutcomeLost(ILogger logger, Exception exception, string jobId);
}

/// <summary>The one activation in the cluster that hands queued jobs to free worker slots, oldest first.</summary>
public interface IJobSchedulerGrain : IGrainWithIntegerKey
{
    /// <summary>Dispatches now (after a submission, or when a slot frees up).</summary>
    Task PokeAsync();
}

internal sealed class JobSchedulerGrain(IServiceScopeFactory scopes, JobRunner runner, IOptions<StratusOptions> options, TimeProvider clock) : Grain, IJobSchedulerGrain
{
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var period = options.Value.JobPollInterval;
        this.RegisterGrainTimer(static (grain, _) => grain.DispatchAsync(), this, new GrainTimerCreationOptions { DueTime = period, Period = period, KeepAlive = true });
        return Task.CompletedTask;
    }

    public Task PokeAsync() => DispatchAsync();

    private async Task DispatchAsync()
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
        while (runner.FreeSlots > 0)
        {
            var next = await db.Jobs.AsNoTracking().Where(j => j.Status == JobStatus.Queued).OrderBy(j => j.CreatedAt).ThenBy(j => j.Id)
                .Select(j => new { j.Id, j.MaxRunSeconds }).FirstOrDefaultAsync();
            if (next is null) return;
            // Claim it: only one dispatcher wins the QUEUED -> RUNNING change.
            var now = clock.GetUtcNow();
            var claimed = await db.Jobs.Where(j => j.Id == next.Id && j.Status == JobStatus.Queued).ExecuteUpdateAsync(s => s
                .SetProperty(j => j.Status, JobStatus.Running)
                .SetProperty(j => j.StartedAt, now)
                .SetProperty(j => j.Attempts, j => j.Attempts + 1));
            if (claimed == 1) runner.Start(next.Id, next.MaxRunSeconds);
        }
    }
}
