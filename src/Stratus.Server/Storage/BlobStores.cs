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
        services.AddSingleton(Create(options));
        services.AddHealthChecks().AddCheck<BlobStoreHealthCheck>("store", tags: ["ready"]);
    }

    private static IBlobStore Create(StorageSettings options)
    {
        var temp = Path.Combine(options.DataDir, "tmp");
        var store = options.Store;
        if (string.IsNullOrWhiteSpace(store)) return new LocalBlobStore(Path.Combine(options.DataDir, "blobs"), temp);
        if (!store.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
        {
            if (store.Contains("://", StringComparison.Ordinal))
                throw new StartupException($"Stratus:Store (STRATUS_STORE, --store) is '{store}'; use a folder or s3://BUCKET/PREFIX");
            return new LocalBlobStore(Path.GetFullPath(store), temp);
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
        return new S3BlobStore(client, uri, options.S3Endpoint, temp, Path.Combine(options.DataDir, "cache"), options.CacheBytes, options.S3PartBytes);
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
