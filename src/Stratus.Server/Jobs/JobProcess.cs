using System.Globalization;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Stratus.Ml.Data;
using Stratus.Server.Kernel;
using Stratus.Server.Storage;

namespace Stratus.Server.Jobs;

/// <summary>What a job process holds of its job's claim: the epoch that fences its writes, and the slots it may use.</summary>
public sealed class JobClaim(string jobId, int epoch, int slots)
{
    public string JobId { get; } = jobId;

    public int Epoch { get; } = epoch;

    /// <summary>Worker slots this job holds (AutoML runs this many trials side by side).</summary>
    public int Slots { get; } = slots;

    /// <summary>Throws <see cref="JobFencedException"/> unless the job is still RUNNING under this claim: checked before anything is registered.</summary>
    public async Task EnsureCurrentAsync(StratusDb db, CancellationToken ct)
    {
        if (!await db.Jobs.AnyAsync(j => j.Id == JobId && j.Epoch == Epoch && j.Status == JobStatus.Running, ct))
            throw new JobFencedException($"job {JobId} is no longer held by claim {Epoch}: its result is refused");
    }
}

/// <summary>The job was claimed again elsewhere (this process's lease ran out): nothing it produces may complete the job.</summary>
public sealed class JobFencedException(string message) : Exception(message);

/// <summary>
/// A job in a process of its own (<c>stratus job-process JOB EPOCH SLOTS PARENT</c>), started by a node's
/// <see cref="JobRunner"/>: no HTTP, no silo, only the database, the blob store and the executors. A native crash, an
/// out-of-memory kill or a runaway job ends this process and fails only its job. Every half second it renews its claim's
/// lease and looks for a cancel; it stops when the job is no longer its own (fenced), when its parent node is gone,
/// or past the job's time limit, and it writes the outcome only while the claim is still current.
/// </summary>
public static partial class JobProcess
{
    /// <summary>The command name the CLI gives this entry point.</summary>
    public const string Command = "job-process";

    /// <summary>Exit code of a process whose claim was taken over, or whose parent died: it wrote no outcome.</summary>
    public const int Fenced = 3;

    /// <summary>Runs the job in a host built by <see cref="Hosting.JobProcessHost"/>; the exit code is the process's.</summary>
    public static Task<int> ExecuteAsync(IServiceProvider services, string jobId, int epoch, int parentPid, ILogger logger) =>
        new Execution(services, services.GetRequiredService<JobSettings>(), jobId, epoch, parentPid, logger).RunAsync();

    private sealed class Execution(IServiceProvider services, JobSettings options, string jobId, int epoch, int parentPid, ILogger logger)
    {
        private readonly TimeProvider _clock = TimeProvider.System;
        private readonly string _me = $"{Environment.MachineName}/{Environment.ProcessId}";
        private volatile string? _stopReason;

        public async Task<int> RunAsync()
        {
            int maxRunSeconds;
            string kind, project;
            await using (var scope = services.CreateAsyncScope())
            {
                var job = await scope.ServiceProvider.GetRequiredService<StratusDb>().Jobs.AsNoTracking().FirstAsync(j => j.Id == jobId);
                if (job.Epoch != epoch || job.Status != JobStatus.Running) return Fenced;
                (maxRunSeconds, kind, project) = (job.MaxRunSeconds, job.Kind, job.Project);
            }
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(maxRunSeconds));
            var ct = cts.Token;
            using var stopWatching = new CancellationTokenSource();
            var watcher = WatchAsync(cts, stopWatching.Token);

            string status;
            string? error = null;
            string? result = null;
            var transient = false;
            try
            {
                await LogAsync($"running in job process {_me}");
                if (options.JobFaultForTests == "crash") Crash();
                await using var scope = services.CreateAsyncScope();
                // The job works in its project: what it reads by name and what it makes are that project's.
                scope.ServiceProvider.GetRequiredService<Security.ProjectScope>().Enter(project);
                result = kind == JobService.BatchKind
                    ? JsonSerializer.Serialize(await scope.ServiceProvider.GetRequiredService<BatchJobExecutor>().RunAsync(jobId, LogAsync, ct), StratusJsonContext.Default.BatchResultInfo)
                    : JsonSerializer.Serialize(await scope.ServiceProvider.GetRequiredService<TrainJobExecutor>().RunAsync(jobId, LogAsync, ct), StratusJsonContext.Default.TrainResultInfo);
                status = JobStatus.Succeeded;
            }
            catch (Exception) when (_stopReason is "fenced" or "orphaned")
            {
                LogGaveUp(logger, jobId, epoch, _stopReason);
                return Fenced;
            }
            catch (JobFencedException ex)
            {
                LogGaveUp(logger, jobId, epoch, ex.Message);
                return Fenced;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                status = JobStatus.Cancelled;
                error = _stopReason == "cancel" ? "cancelled on request" : $"cancelled: past its time limit of {maxRunSeconds} s";
            }
            catch (Exception ex) when (ex is DataFormatException or ProblemException or InvalidDataException or CorruptBlobException)
            {
                status = JobStatus.Failed;
                error = ex.Message;
            }
            catch (Exception ex)
            {
                // Not the input's fault (storage, memory, a bug): worth another attempt. Details stay in the log.
                status = JobStatus.Failed;
                error = $"internal error ({ex.GetType().Name}); the server log has the details";
                transient = true;
                LogJobCrashed(logger, ex, jobId);
            }
            await stopWatching.CancelAsync();
            await watcher;
            return await JobOutcome.WriteAsync(services, _clock, jobId, epoch, status, error, result, transient) ? 0 : Fenced;
        }

        /// <summary>Every half second: renew the lease, look for a cancel, and make sure the parent node still runs.</summary>
        private async Task WatchAsync(CancellationTokenSource job, CancellationToken stop)
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
            try
            {
                while (await timer.WaitForNextTickAsync(stop))
                {
                    if (ParentProcessId() != parentPid)
                    {
                        Stop(job, "orphaned");
                        continue;
                    }
                    try
                    {
                        await using var scope = services.CreateAsyncScope();
                        var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
                        var lease = _clock.GetUtcNow() + options.JobLease;
                        var held = await db.Jobs.Where(j => j.Id == jobId && j.Epoch == epoch && j.Status == JobStatus.Running)
                            .ExecuteUpdateAsync(s => s.SetProperty(j => j.LeaseExpiresAt, lease).SetProperty(j => j.Worker, _me), stop);
                        if (held == 0) Stop(job, "fenced");
                        else if (await db.Jobs.AnyAsync(j => j.Id == jobId && j.CancelRequested, stop)) Stop(job, "cancel");
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException && MetadataDatabase.IsUnavailable(ex))
                    {
                        // The database is away: the work goes on; if it stays away past the lease, the claim is given up.
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // the job ended
            }
        }

        private void Stop(CancellationTokenSource job, string reason)
        {
            _stopReason ??= reason;
            job.Cancel();
        }

        private async Task LogAsync(string line)
        {
            await using var scope = services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
            db.JobLog.Add(new JobLogRow { JobId = jobId, Time = _clock.GetUtcNow(), Line = line });
            await db.SaveChangesAsync();
        }
    }

    /// <summary>The test-only native crash (<see cref="JobSettings.JobFaultForTests"/>): SIGSEGV, as a fault in native code dies.</summary>
    private static void Crash() => _ = strlen(1);

    // libc reading address 1: a fault in native code, which the runtime does not turn into an exception.
    [System.Runtime.InteropServices.LibraryImport("libc")]
    private static partial nuint strlen(nint s);

    /// <summary>This process's parent now (Linux: the fourth field of /proc/self/stat); an orphan's is another process's.</summary>
    private static int ParentProcessId()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        // "pid (name) state ppid ...": the name may hold spaces and parentheses, so read after its last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[1], CultureInfo.InvariantCulture);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: claim {Epoch} given up ({Reason}); its outcome is left to the claim that holds it")]
    private static partial void LogGaveUp(ILogger logger, string jobId, int epoch, string? reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} crashed")]
    private static partial void LogJobCrashed(ILogger logger, Exception exception, string jobId);
}

/// <summary>
/// How a job ends, in one place for the job process (its own outcome) and the node (a process that died without one):
/// written only while the job is RUNNING under <c>epoch</c>; a transient failure with retries left is queued again.
/// </summary>
internal static class JobOutcome
{
    public static async Task<bool> WriteAsync(IServiceProvider services, TimeProvider clock, string jobId, int epoch, string status, string? error, string? result, bool transient)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
        var now = clock.GetUtcNow();
        var job = await db.Jobs.AsNoTracking().FirstAsync(j => j.Id == jobId);
        if (job.Epoch != epoch || job.Status != JobStatus.Running) return false;
        // A cancel asked for while the job failed or finished wins over neither: the outcome is what happened.
        int written;
        string line;
        if (transient && job.Attempts <= job.Retries && !job.CancelRequested)
        {
            written = await db.Jobs.Where(j => j.Id == jobId && j.Status == JobStatus.Running && j.Epoch == epoch).ExecuteUpdateAsync(s => s
                .SetProperty(j => j.Status, JobStatus.Queued)
                .SetProperty(j => j.RunId, (string?)null)
                .SetProperty(j => j.LeaseExpiresAt, (DateTimeOffset?)null));
            line = $"attempt {job.Attempts} failed: {error}; trying again";
        }
        else
        {
            written = await db.Jobs.Where(j => j.Id == jobId && j.Status == JobStatus.Running && j.Epoch == epoch).ExecuteUpdateAsync(s => s
                .SetProperty(j => j.Status, status)
                .SetProperty(j => j.EndedAt, now)
                .SetProperty(j => j.Error, error)
                .SetProperty(j => j.ResultJson, result)
                .SetProperty(j => j.LeaseExpiresAt, (DateTimeOffset?)null));
            line = error is null ? status.ToLowerInvariant() : $"{status.ToLowerInvariant()}: {error}";
            if (written > 0) await db.JobParts.Where(p => p.JobId == jobId).ExecuteDeleteAsync(); // a batch job's parts: the job has ended
        }
        if (written == 0) return false;
        db.JobLog.Add(new JobLogRow { JobId = jobId, Time = now, Line = line });
        await db.SaveChangesAsync();
        return true;
    }

    /// <summary>Marks the run of a job whose process died (or was given up) as failed, with the reason.</summary>
    public static async Task FailRunAsync(StratusDb db, string? runId, DateTimeOffset now, string reason)
    {
        if (runId is null) return;
        await db.Runs.Where(r => r.Id == runId && r.Status == RunStatus.Running).ExecuteUpdateAsync(s => s
            .SetProperty(r => r.Status, RunStatus.Failed)
            .SetProperty(r => r.EndTime, now)
            .SetProperty(r => r.FailureReason, reason));
    }
}
