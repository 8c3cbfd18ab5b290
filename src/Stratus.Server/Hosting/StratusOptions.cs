using Stratus.Ml.Data;

namespace Stratus.Server.Hosting;

/// <summary>Settings of a Stratus server, bound from the <c>Stratus</c> configuration section (<c>STRATUS_</c>-prefixed environment variables, appsettings.json, the command line).</summary>
public sealed class StratusOptions
{
    /// <summary>The configuration section name.</summary>
    public const string Section = "Stratus";

    /// <summary>Where the database, artifacts, datasets and admin token live. Default: <c>$STRATUS_HOME</c>, else <c>~/.stratus</c>.</summary>
    public string DataDir { get; set; } = DefaultDataDir();

    /// <summary>The URLs to listen on. Default: <c>http://127.0.0.1:5080</c> (loopback only).</summary>
    public string Urls { get; set; } = "http://127.0.0.1:5080";

    /// <summary>Host names the server answers to (host filtering). Default: <c>localhost;127.0.0.1;[::1]</c>; set the server's public name when binding beyond loopback.</summary>
    public string AllowedHosts { get; set; } = "localhost;127.0.0.1;[::1]";

    /// <summary>Metadata database provider: <c>sqlite</c> or <c>postgres</c>. Default: <c>sqlite</c> (a file in <see cref="DataDir"/>).</summary>
    public string Database { get; set; } = "sqlite";

    /// <summary>
    /// Connection string for <see cref="Database"/>. Default: none, meaning <c>Data Source=&lt;DataDir&gt;/stratus.db</c>
    /// for SQLite; PostgreSQL needs one (<c>Host=db;Database=stratus;Username=stratus;Password=...</c>).
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// Whether a node applies this build's schema migrations at start. With false, a node refuses to start on an older
    /// schema (an operator migrates with one node first); a schema newer than the build's is always refused. Default: true.
    /// </summary>
    public bool MigrateOnStart { get; set; } = true;

    /// <summary>
    /// Where blobs (dataset versions, artifacts, model packages) are stored: a folder (a shared file system serves
    /// several nodes), or <c>s3://BUCKET/PREFIX</c> on an S3-compatible object store, with credentials from the standard
    /// AWS environment variables (<c>AWS_ACCESS_KEY_ID</c>, <c>AWS_SECRET_ACCESS_KEY</c>) or profile
    /// (<c>AWS_PROFILE</c>). Default: none, meaning <c>&lt;DataDir&gt;/blobs</c>.
    /// </summary>
    public string? Store { get; set; }

    /// <summary>The S3 endpoint of an S3-compatible store (<c>http://minio:9000</c>), addressed path-style. Default: none, meaning AWS's own for <see cref="S3Region"/>.</summary>
    public string? S3Endpoint { get; set; }

    /// <summary>The S3 region to sign requests for. Default: <c>AWS_REGION</c>, else <c>us-east-1</c>.</summary>
    public string? S3Region { get; set; }

    /// <summary>Blobs above this size go to S3 as multipart uploads, in parts of this size (at least 5 MiB). Default: 16 MiB.</summary>
    public long S3PartBytes { get; set; } = 16L << 20;

    /// <summary>Disk this node may use for local copies of an object store's blobs (<c>&lt;DataDir&gt;/cache</c>), least recently used evicted first. Default: 10 GiB.</summary>
    public long CacheBytes { get; set; } = 10L << 30;

    /// <summary>
    /// How the node logs: <c>text</c> writes every line to <c>&lt;DataDir&gt;/logs/stratus.log</c> and only errors to
    /// the console (which keeps the platform's own messages for a person); <c>json</c> writes one JSON object per line
    /// to standard output, for a log collector. Default: <c>text</c>.
    /// </summary>
    public string LogFormat { get; set; } = "text";

    /// <summary>Largest JSON request body, in bytes. Default: 16 MiB.</summary>
    public long MaxJsonBodyBytes { get; set; } = 16L << 20;

    /// <summary>Largest dataset or artifact upload, in bytes. Default: 64 GiB.</summary>
    public long MaxUploadBytes { get; set; } = 64L << 30;

    /// <summary>Columns of a dataset, and values per row of an imported model. Default: 2,000 (see <see cref="DataLimits"/>).</summary>
    public int MaxColumns { get; set; } = Limits.MaxColumns;

    /// <summary>Rows times columns of a dataset. Default: 1,000,000,000.</summary>
    public long MaxCells { get; set; } = Limits.MaxCells;

    /// <summary>Decompressed bytes of a Parquet upload and of each model package entry. Default: 8 GiB.</summary>
    public long MaxDecompressedBytes { get; set; } = Limits.MaxDecompressedBytes;

    /// <summary>Memory each DuckDB connection (an upload, a preview, a drift check) may use before spilling to disk. Default: a quarter of the process's memory, at least 1 GiB.</summary>
    public long DuckDbMemoryBytes { get; set; } = Limits.DuckDbMemoryBytes;

    /// <summary>Threads each DuckDB connection may use. Default: 2.</summary>
    public int DuckDbThreads { get; set; } = Limits.DuckDbThreads;

    /// <summary>Memory all imported (ONNX) models may hold at once, weights and tensors, at most 4 GiB (ONNX Runtime's arena). Default: 4 GiB.</summary>
    public long OnnxMemoryBytes { get; set; } = Limits.OnnxMemoryBytes;

    private static readonly DataLimits Limits = new();

    /// <summary>
    /// The settings that are out of range, each as <c>Stratus:Name is VALUE; what it must be</c>: a node refuses to
    /// start on any (a zero slot count or a negative tick would otherwise pass silently).
    /// </summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        void Positive(string name, TimeSpan value)
        {
            if (value <= TimeSpan.Zero) problems.Add($"Stratus:{name} is {value}; it must be positive");
        }
        void AtLeast(string name, long value, long min)
        {
            if (value < min) problems.Add($"Stratus:{name} is {value}; it must be at least {min}");
        }
        AtLeast(nameof(WorkerSlots), WorkerSlots, 0);
        AtLeast(nameof(TrainingThreads), TrainingThreads, 0);
        AtLeast(nameof(JobRestartAttempts), JobRestartAttempts, 0);
        AtLeast(nameof(MaxColumns), MaxColumns, 1);
        AtLeast(nameof(MaxCells), MaxCells, 1);
        AtLeast(nameof(MaxJsonBodyBytes), MaxJsonBodyBytes, 1024);
        AtLeast(nameof(MaxUploadBytes), MaxUploadBytes, 1024);
        AtLeast(nameof(DuckDbThreads), DuckDbThreads, 1);
        AtLeast(nameof(EndpointMaxConcurrency), EndpointMaxConcurrency, 1);
        AtLeast(nameof(EndpointMaxQueue), EndpointMaxQueue, 0);
        AtLeast(nameof(CacheBytes), CacheBytes, 1L << 20);
        AtLeast(nameof(S3PartBytes), S3PartBytes, 5L << 20);
        AtLeast(nameof(CaptureRetentionDays), CaptureRetentionDays, 1);
        AtLeast(nameof(AuthFailureBurst), AuthFailureBurst, 1);
        Positive(nameof(JobLease), JobLease);
        Positive(nameof(JobPollInterval), JobPollInterval);
        Positive(nameof(ReplicaTick), ReplicaTick);
        Positive(nameof(RolloutTick), RolloutTick);
        Positive(nameof(MonitorTick), MonitorTick);
        Positive(nameof(RunReaperInterval), RunReaperInterval);
        Positive(nameof(GcInterval), GcInterval);
        Positive(nameof(AuthFailureWindow), AuthFailureWindow);
        if (LogFormat is not ("text" or "json")) problems.Add($"Stratus:{nameof(LogFormat)} is '{LogFormat}'; use text or json");
        if (GcGracePeriod < TimeSpan.Zero) problems.Add($"Stratus:{nameof(GcGracePeriod)} is {GcGracePeriod}; it must not be negative");
        return problems;
    }

    /// <summary>The data limits these options set.</summary>
    public DataLimits ToDataLimits() => new()
    {
        MaxColumns = MaxColumns,
        MaxCells = MaxCells,
        MaxDecompressedBytes = MaxDecompressedBytes,
        DuckDbMemoryBytes = DuckDbMemoryBytes,
        DuckDbThreads = DuckDbThreads,
        OnnxMemoryBytes = OnnxMemoryBytes,
    };

    /// <summary>Orleans silo-to-silo port (open it between a cluster's servers). Default: 0, meaning the first free port from 11111 on.</summary>
    public int SiloPort { get; set; }

    /// <summary>Orleans gateway port of a server on its own (a cluster's silos open none: nothing talks Orleans to them from outside). Default: 0, meaning the first free port from 30000 on.</summary>
    public int GatewayPort { get; set; }

    /// <summary>
    /// Model packages kept in memory for serving, in bytes as stored; beyond it the least recently used are unloaded
    /// (their endpoints load them again on the next request). Default: 4 GiB.
    /// </summary>
    public long ModelCacheBytes { get; set; } = 4L << 30;

    /// <summary>Requests an endpoint scores at once unless it sets its own limit. Default: 4 per core.</summary>
    public int EndpointMaxConcurrency { get; set; } = 4 * Environment.ProcessorCount;

    /// <summary>Requests an endpoint lets wait for a turn unless it sets its own limit; more get 429. Default: 256.</summary>
    public int EndpointMaxQueue { get; set; } = 256;

    /// <summary>How often each endpoint replica checks whether it is still needed. Default: 1 second.</summary>
    public TimeSpan ReplicaTick { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// An OpenTelemetry collector taking OTLP over HTTP (such as <c>http://localhost:4318</c>) to send traces to; the
    /// standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> works too. Default: none (no traces are recorded).
    /// </summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>How often recorded spans are sent to the collector. Default: 5 seconds.</summary>
    public TimeSpan OtlpExportInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long captured requests are kept, in days.</summary>
    public int CaptureRetentionDays { get; set; } = 30;

    /// <summary>How often running rollouts are checked for a step that is due. Default: 1 second.</summary>
    public TimeSpan RolloutTick { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often monitoring policies are checked for a scheduled check that is due, and retrainings for a job that ended. Default: 5 seconds.</summary>
    public TimeSpan MonitorTick { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Hosts that policy webhooks may call, separated by ';' (<c>hooks.slack.com;*.example.com</c>). Default: none, meaning
    /// any host whose addresses are public.
    /// </summary>
    public string WebhookHosts { get; set; } = "";

    /// <summary>Whether webhooks may reach loopback, private, link-local and other non-public addresses. Default: false.</summary>
    public bool WebhookAllowPrivate { get; set; }

    /// <summary>How often runs are checked for missed heartbeats. Default: 30 seconds.</summary>
    public TimeSpan RunReaperInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often unreferenced blobs are collected. Default: 1 hour.</summary>
    public TimeSpan GcInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How old an unreferenced blob must be before collection, so that uploads in flight are never collected. Default: 10 minutes.</summary>
    public TimeSpan GcGracePeriod { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Jobs that may run at once on this node, each in a job process of its own. Default: one per core.</summary>
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

    /// <summary>How many times a job interrupted by a server restart is started again before it is marked failed. Default: 2.</summary>
    public int JobRestartAttempts { get; set; } = 2;

    /// <summary>Failed authentications one client address may make within <see cref="AuthFailureWindow"/> before its requests with credentials get 429. Default: 10.</summary>
    public int AuthFailureBurst { get; set; } = 10;

    /// <summary>The window over which failed authentications are counted per client address. Default: 1 minute.</summary>
    public TimeSpan AuthFailureWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Whether to print where the admin token the first start creates is kept (the token itself is never printed). Default: true.</summary>
    public bool PrintAdminToken { get; set; } = true;

    /// <summary>The default data directory: <c>$STRATUS_HOME</c>, else <c>~/.stratus</c>.</summary>
    public static string DefaultDataDir() =>
        Environment.GetEnvironmentVariable("STRATUS_HOME") is { Length: > 0 } home
            ? home
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".stratus");
}
