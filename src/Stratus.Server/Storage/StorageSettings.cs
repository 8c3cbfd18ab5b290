using Stratus.Server.Kernel;

namespace Stratus.Server.Storage;

/// <summary>Where a node keeps its metadata and blobs (bound from the <c>Stratus</c> section; see <see cref="Hosting.StratusOptions"/>).</summary>
public sealed class StorageSettings
{
    /// <summary>
    /// Where this node keeps its files: the SQLite database, local blobs, the log, the admin token, scratch space.
    /// Default: <c>$STRATUS_HOME</c>, else <c>~/.stratus</c>.
    /// </summary>
    public string DataDir { get; set; } = DefaultDataDir();

    /// <summary>Metadata database provider: <c>sqlite</c> or <c>postgres</c>. Default: <c>sqlite</c> (a file in <see cref="DataDir"/>).</summary>
    public string Database { get; set; } = "sqlite";

    /// <summary>
    /// Connection string for <see cref="Database"/>. Default: none, meaning <c>Data Source=&lt;DataDir&gt;/stratus.db</c>
    /// for SQLite; PostgreSQL needs one (<c>Host=db;Database=stratus;Username=stratus;Password=...</c>).
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// Whether a node applies this build's schema migrations at start. With false, a node refuses to start on an older
    /// schema (an operator migrates with one node first); a schema newer than the build's is always refused. Workers
    /// never migrate. Default: true.
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

    /// <summary>
    /// Space this node may use for local copies of blobs for the engines that read files (DuckDB, LightGBM, ONNX
    /// Runtime): copies of an object store's blobs, and the plaintext of encrypted ones; least recently used evicted
    /// first. Default: 10 GiB (at most half of a memory-backed <see cref="CacheDir"/>).
    /// </summary>
    public long CacheBytes { get; set; } = 10L << 30;

    /// <summary>
    /// Where those local copies are. Default: none, meaning a folder of this user's in memory (<c>/dev/shm</c>) when
    /// blobs are encrypted, so that no plaintext of them lies on disk, else <c>&lt;DataDir&gt;/cache</c>.
    /// </summary>
    public string? CacheDir { get; set; }

    /// <summary>
    /// Whether new blobs are encrypted at rest: AES-256-GCM under a data key of their own, wrapped by a key-encryption
    /// key (<see cref="KeyFile"/>, <see cref="MasterKey"/>). Blobs stored encrypted stay readable when this is turned
    /// off. Default: true.
    /// </summary>
    public bool EncryptAtRest { get; set; } = true;

    /// <summary>
    /// The file of key-encryption keys (<c>ID:BASE64</c> lines, the last one active), made with one key on the first
    /// start, mode 0600. Every node of a cluster needs the same keys: a file on a shared folder, or <see cref="MasterKey"/>.
    /// Default: none, meaning <c>&lt;DataDir&gt;/keys/master.keys</c>.
    /// </summary>
    public string? KeyFile { get; set; }

    /// <summary>
    /// The key-encryption keys themselves, instead of a file: <c>ID:BASE64</c> entries (32-byte keys, lower-case hex
    /// ids) separated by commas, the last one active; usually from <c>STRATUS_MASTERKEY</c>. Default: none.
    /// </summary>
    public string? MasterKey { get; set; }

    /// <summary>
    /// Key-encryption keys in an AWS KMS-compatible key service instead of a file: key ids, ARNs or aliases separated
    /// by commas, the last one active (every node must name them alike). They never leave the service; credentials and
    /// region come from the standard AWS environment (<c>AWS_REGION</c>, else us-east-1). Default: none.
    /// </summary>
    public string? KmsKeys { get; set; }

    /// <summary>The key service's URL, for a KMS-compatible service other than AWS's own. Default: none, meaning AWS KMS in the region.</summary>
    public string? KmsEndpoint { get; set; }

    /// <summary>
    /// Key-encryption keys in a PKCS#11 token (a hardware security module, SoftHSM) instead of a file: the labels of
    /// AES keys in <see cref="Pkcs11Token"/>, separated by commas, the last one active. They never leave the token.
    /// Default: none.
    /// </summary>
    public string? Pkcs11Keys { get; set; }

    /// <summary>The PKCS#11 module (<c>/usr/lib/softhsm/libsofthsm2.so</c>, a vendor's library). Default: none.</summary>
    public string? Pkcs11Library { get; set; }

    /// <summary>The label of the token that holds <see cref="Pkcs11Keys"/>. Default: none.</summary>
    public string? Pkcs11Token { get; set; }

    /// <summary>The token's user PIN; give it as <c>STRATUS_PKCS11PIN</c> rather than on a command line. Default: none.</summary>
    public string? Pkcs11Pin { get; set; }

    /// <summary>How often unreferenced blobs are collected. Default: 1 hour.</summary>
    public TimeSpan GcInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How old an unreferenced blob must be before collection, so that uploads in flight are never collected. Default: 10 minutes.</summary>
    public TimeSpan GcGracePeriod { get; set; } = TimeSpan.FromMinutes(10);

    public SettingProblems Problems()
    {
        var problems = new SettingProblems();
        if (string.IsNullOrWhiteSpace(DataDir)) problems.Add("Stratus:DataDir is empty; name the folder this node keeps its files in");
        // Database and ConnectionString are checked where they are used (MetadataDatabase), which names the host too.
        problems.AtLeast(nameof(S3PartBytes), S3PartBytes, 5L << 20);
        if (KmsEndpoint is { Length: > 0 } kms && !(Uri.TryCreate(kms, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"))
            problems.Add($"Stratus:KmsEndpoint is '{kms}', not an http(s) URL");
        problems.AtLeast(nameof(CacheBytes), CacheBytes, 1L << 20);
        problems.Positive(nameof(GcInterval), GcInterval);
        problems.NotNegative(nameof(GcGracePeriod), GcGracePeriod);
        return problems;
    }

    /// <summary>The default data directory: <c>$STRATUS_HOME</c>, else <c>~/.stratus</c>.</summary>
    public static string DefaultDataDir() =>
        Environment.GetEnvironmentVariable("STRATUS_HOME") is { Length: > 0 } home
            ? home
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".stratus");
}
