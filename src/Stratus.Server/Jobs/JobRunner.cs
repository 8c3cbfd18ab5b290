using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Stratus.Server.Storage;

namespace Stratus.Server.Jobs;

/// <summary>
/// The worker slots of this node. Each job runs in a job process of its own (<see cref="JobProcess"/>), never in the
/// process that answers predictions: a native crash, an out-of-memory kill or a runaway job ends that process and fails
/// its job with the reason, and nothing else. The runner copies the process's warnings into this log, kills it past the
/// job's time limit or when a cancel is not obeyed, and writes the outcome of a process that died without one.
/// </summary>
public sealed partial class JobRunner(IServiceProvider services, JobSettings options, StorageSettings storage, JobProcessEnvironment environment, TimeProvider clock, ILogger<JobRunner> logger)
    : IDisposable
{
    private sealed record Child(Process Process, int Slots, int Epoch);

    // By job and epoch: a job queued again may start its next claim while the last claim's process is still exiting.
    private readonly ConcurrentDictionary<(string Job, int Epoch), Child> _running = new();
    private readonly Lock _slots = new();

    /// <summary>Slots not taken by a running job.</summary>
    public int FreeSlots
    {
        get
        {
            lock (_slots) return Math.Max(0, options.WorkerSlots - _running.Values.Sum(c => c.Slots));
        }
    }

    /// <summary>This node as a job's <see cref="JobRow.Worker"/> names it until its process reports: <c>host/pid</c>.</summary>
    public static string Me { get; } = $"{Environment.MachineName}/{Environment.ProcessId}";

    /// <summary>Raised when a job's process has ended and its slots are free.</summary>
    public event Action? SlotFreed;

    /// <summary>How many jobs run on this node now.</summary>
    public int Running => _running.Count;

    /// <summary>The CPU time and resident memory of this node's job processes now (those that just ended count no more).</summary>
    public (TimeSpan Cpu, long Memory) Usage()
    {
        var (cpu, memory) = (TimeSpan.Zero, 0L);
        foreach (var child in _running.Values)
        {
            try
            {
                child.Process.Refresh();
                cpu += child.Process.TotalProcessorTime;
                memory += child.Process.WorkingSet64;
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // it ended between the listing and the reading
            }
        }
        return (cpu, memory);
    }

    /// <summary>
    /// Starts the process of a job the scheduler has claimed (status RUNNING under <paramref name="epoch"/>): it takes
    /// up to <paramref name="wantedSlots"/> of the slots free now, at least one (AutoML's trials side by side).
    /// </summary>
    public void Start(string jobId, int epoch, int maxRunSeconds, int wantedSlots)
    {
        Process process;
        int slots;
        lock (_slots)
        {
            if (_running.ContainsKey((jobId, epoch))) return;
            var free = options.WorkerSlots - _running.Values.Sum(c => c.Slots);
            slots = Math.Clamp(wantedSlots, 1, Math.Max(1, free));
            try
            {
                process = Process.Start(StartInfo(jobId, epoch, slots))!;
            }
            catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
            {
                LogNoProcess(logger, ex, jobId);
                _ = FinishAsync(jobId, epoch, $"the job process could not start: {ex.Message}");
                return;
            }
            _running[(jobId, epoch)] = new Child(process, slots, epoch);
        }
        _ = Task.Run(() => SuperviseAsync(jobId, _running[(jobId, epoch)], maxRunSeconds));
    }

    /// <summary>Stops a job running here that did not obey its cancel within a grace period; false when it does not run here.</summary>
    public bool Cancel(string jobId)
    {
        if (_running.Where(r => r.Key.Job == jobId).Select(r => r.Value).FirstOrDefault() is not { } child) return false;
        // The process sees the cancel within a second and ends the job itself (its run KILLED); this is the backstop.
        _ = Task.Delay(TimeSpan.FromSeconds(3)).ContinueWith(_ => Kill(child.Process), TaskScheduler.Default);
        return true;
    }

    private async Task SuperviseAsync(string jobId, Child child, int maxRunSeconds)
    {
        var process = child.Process;
        // Into this node's log, never into the job's error: the lines may name server paths.
        var drained = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } line) LogFromProcess(logger, jobId, line);
        });
        var stdout = process.StandardOutput.ReadToEndAsync();
        // The process keeps its own time limit; this one, a little later, catches a process that cannot (stuck in native code).
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(maxRunSeconds) + options.JobLease))
        {
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                Kill(process);
                await process.WaitForExitAsync();
            }
        }
        await drained;
        await stdout;
        var code = process.ExitCode;
        try
        {
            if (code is not (0 or JobProcess.Fenced))
            {
                var reason = $"the job process {Describe(code)}";
                LogProcessDied(logger, jobId, code);
                await FinishAsync(jobId, child.Epoch, reason);
            }
        }
        catch (Exception ex)
        {
            LogOutcomeLost(logger, ex, jobId);
        }
        finally
        {
            lock (_slots) _running.TryRemove((jobId, child.Epoch), out _);
            process.Dispose();
        }
        SlotFreed?.Invoke();
    }

    /// <summary>The outcome of a job whose process died without writing one: failed (or queued again, retries allowing), its run failed.</summary>
    private async Task FinishAsync(string jobId, int epoch, string reason)
    {
        await using (var scope = services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
            var job = await db.Jobs.AsNoTracking().FirstAsync(j => j.Id == jobId);
            if (job.Epoch != epoch || job.Status != JobStatus.Running) return;
            await JobOutcome.FailRunAsync(db, job.RunId, clock.GetUtcNow(), reason);
            if (job.CancelRequested)
            {
                await JobOutcome.WriteAsync(services, clock, jobId, epoch, JobStatus.Cancelled, "cancelled on request", null, transient: false);
                return;
            }
        }
        await JobOutcome.WriteAsync(services, clock, jobId, epoch, JobStatus.Failed, reason, null, transient: true);
    }

    private ProcessStartInfo StartInfo(string jobId, int epoch, int slots)
    {
        var host = options.HostProgram;
        var info = host.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? new ProcessStartInfo("dotnet") { ArgumentList = { host } } : new ProcessStartInfo(host);
        foreach (var a in new[] { JobProcess.Command, jobId, Invariant(epoch), Invariant(slots), Invariant(Environment.ProcessId) }) info.ArgumentList.Add(a);
        info.UseShellExecute = false;
        info.RedirectStandardError = true;
        info.RedirectStandardOutput = true;
        info.WorkingDirectory = storage.DataDir;
        // The job process gets this node's settings exactly, however they were given (file, variables, code).
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("STRATUS_", StringComparison.Ordinal)).ToList()) info.Environment.Remove(key);
        foreach (var (key, value) in environment.Variables) info.Environment[key] = value;
        return info;
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>An exit code as an operator reads it (.NET reports death by signal N as 128 + N).</summary>
    internal static string Describe(int code) => code switch
    {
        134 => "crashed (SIGABRT, exit code 134)",
        137 => "was killed (SIGKILL, exit code 137): out of memory, past its time limit, or by an operator",
        139 => "crashed in native code (SIGSEGV, exit code 139)",
        > 128 and < 160 => $"died of signal {code - 128} (exit code {code})",
        _ => $"failed with exit code {code}",
    };

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    /// <summary>At shutdown: the job processes stop with their node (the jobs are resumed at the next start or elsewhere).</summary>
    public void Dispose()
    {
        foreach (var child in _running.Values) Kill(child.Process);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: {Line}")]
    private static partial void LogFromProcess(ILogger logger, string jobId, string line);

    [LoggerMessage(Level = LogLevel.Error, Message = "The process of job {JobId} ended with exit code {Code} without an outcome")]
    private static partial void LogProcessDied(ILogger logger, string jobId, int code);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not start a process for job {JobId}")]
    private static partial void LogNoProcess(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not record the outcome of job {JobId}; it will be recovered at the next start")]
    private static partial void LogOutcomeLost(ILogger logger, Exception exception, string jobId);
}
