using Stratus.Server.Kernel;

namespace Stratus.Server.Jobs;

/// <summary>How a node runs jobs (bound from the <c>Stratus</c> section; see <see cref="Hosting.StratusOptions"/>).</summary>
public sealed class JobSettings
{
    /// <summary>Jobs that may run at once on this node, each in a job process of its own; 0 on a server that only serves. Default: one per core.</summary>
    public int WorkerSlots { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// The program a job process runs: the <c>stratus</c> command (<c>stratus.dll</c>, run with <c>dotnet</c>, or
    /// an executable), started as <c>job-process JOB EPOCH SLOTS PARENT</c>. Training, AutoML and batch scoring never
    /// run in the process that answers predictions. Default: <c>stratus.dll</c> beside the server's own assemblies.
    /// </summary>
    public string? JobHost { get; set; }

    /// <summary>
    /// How long a job's claim holds without a heartbeat from its process (which renews it every 500 ms); past it the
    /// job is resumed on another node (measured: about 8.5 s from kill -9 of a worker to its job running on another; ten missed
    /// heartbeats before a false suspicion). Default: 5 seconds.
    /// </summary>
    public TimeSpan JobLease { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Test-only: <c>crash</c> makes every job process kill itself with SIGSEGV after its first log line (a native crash). Default: none.</summary>
    public string? JobFaultForTests { get; set; }

    /// <summary>
    /// Threads of every LightGBM call in this process (training, validation, serving), fixed at start: LightGBM keeps
    /// one count for the whole process, and calls that disagree crash it. Default: 0, the cores divided among the
    /// <see cref="WorkerSlots"/> (one thread per slot on a machine with a slot per core), so that jobs and AutoML trials
    /// side by side never oversubscribe the cores.
    /// </summary>
    public int TrainingThreads { get; set; }

    /// <summary>How often the scheduler looks for queued jobs (it is also woken by each submission). Default: 2 seconds.</summary>
    public TimeSpan JobPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How many times a job interrupted by the death of its process or node is started again before it is marked failed. Default: 2.</summary>
    public int JobRestartAttempts { get; set; } = 2;

    /// <summary>LightGBM's one thread count for a process of this node (its job processes use the same).</summary>
    public int Threads => TrainingThreads > 0 ? TrainingThreads : Math.Max(1, Environment.ProcessorCount / Math.Max(1, WorkerSlots));

    /// <summary>The job host program: <see cref="JobHost"/>, or the <c>stratus</c> command beside this node's assemblies.</summary>
    public string HostProgram => JobHost is { Length: > 0 } host ? host : Path.Combine(AppContext.BaseDirectory, "stratus.dll");

    public SettingProblems Problems()
    {
        var problems = new SettingProblems();
        problems.AtLeast(nameof(WorkerSlots), WorkerSlots, 0);
        problems.AtLeast(nameof(TrainingThreads), TrainingThreads, 0);
        problems.AtLeast(nameof(JobRestartAttempts), JobRestartAttempts, 0);
        problems.Positive(nameof(JobLease), JobLease);
        problems.Positive(nameof(JobPollInterval), JobPollInterval);
        if (JobFaultForTests is { } fault && fault != "crash") problems.Add($"Stratus:JobFaultForTests is '{fault}'; the only fault is crash");
        return problems;
    }
}
