using Amazon.Runtime;
using Amazon.S3;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Stratus.Server.Kernel;

namespace Stratus.Server.Storage;

/// <summary>The blob store chosen by <see cref="StorageSettings.Store"/>: a folder, or an S3-compatible object store.</summary>
internal static class BlobStores
{
    public static void AddStratusBlobStore(this IServiceCollection services, StorageSettings options)
    {
        services.AddSingleton<KeyRing>();
        services.AddSingleton<DataKeys>();
        services.AddSingleton<IDataKeys>(sp => sp.GetRequiredService<DataKeys>());
        services.AddSingleton<ColumnSealer>();
        var copies = Cache(options);
        services.AddSingleton(sp => Create(options, copies, sp.GetRequiredService<IDataKeys>()));
        if (copies.InMemory) services.AddHostedService(_ => new MemoryCopiesCleaner(copies.Folder));
        services.AddHealthChecks().AddCheck<BlobStoreHealthCheck>("store", tags: ["ready"]);
    }

    private static IBlobStore Create(StorageSettings options, LocalCopies copies, IDataKeys keys)
    {
        var temp = Path.Combine(options.DataDir, "tmp");
        var (cacheDir, cacheBytes, _) = copies;
        var store = options.Store;
        if (string.IsNullOrWhiteSpace(store)) return new LocalBlobStore(Path.Combine(options.DataDir, "blobs"), temp, keys, new BlobCache(cacheDir, cacheBytes));
        if (!store.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
        {
            if (store.Contains("://", StringComparison.Ordinal))
                throw new StartupException($"Stratus:Store (STRATUS_STORE, --store) is '{store}'; use a folder or s3://BUCKET/PREFIX");
            return new LocalBlobStore(Path.GetFullPath(store), temp, keys, new BlobCache(cacheDir, cacheBytes));
        }
        if (!Uri.TryCreate(store, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            throw new StartupException($"Stratus:Store (STRATUS_STORE, --store) is '{store}', not an s3://BUCKET/PREFIX address");
        var config = new AmazonS3Config
        {
            // S3-compatible servers (MinIO, Ceph, moto) answer on one host, not bucket subdomains, and many do not
            // implement the SDK's default CRC checksums: send them only where S3 requires them.
            ForcePathStyle = true,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            MaxErrorRetry = 2,
            Timeout = TimeSpan.FromSeconds(100),
        };
        var region = options.S3Region ?? Environment.GetEnvironmentVariable("AWS_REGION") ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") ?? "us-east-1";
        if (options.S3Endpoint is { Length: > 0 } endpoint)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var e) || e.Scheme is not ("http" or "https"))
                throw new StartupException($"Stratus:S3Endpoint (STRATUS_S3ENDPOINT, --s3-endpoint) is '{endpoint}', not an http(s) URL");
            config.ServiceURL = endpoint;
            config.AuthenticationRegion = region;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(region);
        }
        // The standard chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, then the platform's own.
        var client = new AmazonS3Client(config);
        return new S3BlobStore(client, uri, options.S3Endpoint, temp, cacheDir, cacheBytes, options.S3PartBytes, keys);
    }

    /// <summary>
    /// Where this node's local copies go, and how much they may take: the operator's folder; with encryption, a folder
    /// of this user's in memory (<c>/dev/shm</c>, at most half of it), so that the plaintext of encrypted blobs never
    /// lies on disk; else the data directory. A memory folder that is not this user's alone (mode 0700) is not used.
    /// The node and its job processes find the same folder.
    /// </summary>
    private static LocalCopies Cache(StorageSettings options)
    {
        if (options.CacheDir is { Length: > 0 } chosen) return new LocalCopies(Path.GetFullPath(chosen), options.CacheBytes, false);
        var onDisk = new LocalCopies(Path.Combine(options.DataDir, "cache"), options.CacheBytes, false);
        if (!options.EncryptAtRest || OperatingSystem.IsWindows() || !Directory.Exists("/dev/shm")) return onDisk;
        try
        {
            var mine = Directory.CreateDirectory($"/dev/shm/stratus-{Environment.UserName}", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            if (File.GetUnixFileMode(mine.FullName) != (UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute)) return onDisk;
            var folder = Path.Combine(mine.FullName, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(options.DataDir)))[..16]);
            Directory.CreateDirectory(folder);
            return new LocalCopies(folder, Math.Min(options.CacheBytes, new DriveInfo("/dev/shm").TotalSize / 2), true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return onDisk;
        }
    }
}

/// <summary>Where a node's local copies of blobs are, how much they may take, and whether that is memory.</summary>
internal sealed record LocalCopies(string Folder, long Bytes, bool InMemory);

/// <summary>
/// Plaintext copies in memory are the node's while it runs: emptied at its start (a killed process's) and at its stop,
/// so that a stopped node leaves nothing of its data in memory. Job processes never start hosted services.
/// </summary>
internal sealed class MemoryCopiesCleaner(string folder) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Clear();

    public Task StopAsync(CancellationToken cancellationToken) => Clear();

    private Task Clear()
    {
        try
        {
            if (Directory.Exists(folder)) BlobStoreExtensions.EmptyFolder(folder);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // What cannot go now goes at the next start, or with the machine.
        }
        return Task.CompletedTask;
    }
}

/// <summary>Readiness names the store when it cannot be read and written.</summary>
internal sealed class BlobStoreHealthCheck(IBlobStore blobs) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await blobs.CheckAsync(cancellationToken);
            return HealthCheckResult.Healthy(blobs.Location);
        }
        catch (BlobStoreUnavailableException ex)
        {
            return HealthCheckResult.Unhealthy(ex.Message);
        }
    }
}
