using Microsoft.EntityFrameworkCore;

namespace Stratus.Server.Storage;

/// <summary>Deletes blobs that no live dataset version, artifact, model version, capture file or unfinished batch job's part references.</summary>
/// <remarks>
/// A blob younger than <see cref="StorageSettings.GcGracePeriod"/> is kept even when unreferenced: it may belong to an
/// upload whose row is about to commit. A blob written again refreshes its write time for the same reason.
/// </remarks>
public sealed partial class BlobCollector(StratusDb db, IBlobStore blobs, StorageSettings options, TimeProvider clock, ILogger<BlobCollector> logger)
{
    public async Task<GcResult> CollectAsync(CancellationToken ct)
    {
        // Parts of batch jobs that ended (however they ended) are no longer needed.
        string[] ended = [JobStatus.Succeeded, JobStatus.Failed, JobStatus.Cancelled];
        await db.JobParts.Where(p => !db.Jobs.Any(j => j.Id == p.JobId && !ended.Contains(j.Status))).ExecuteDeleteAsync(ct);
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        referenced.UnionWith(await db.DatasetVersions.Where(v => v.DeletedAt == null).Select(v => v.ParquetSha256).ToListAsync(ct));
        referenced.UnionWith(await db.Artifacts.Select(a => a.Sha256).ToListAsync(ct));
        referenced.UnionWith(await db.ModelVersions.Select(v => v.Sha256).ToListAsync(ct));
        referenced.UnionWith(await db.CaptureFiles.Select(c => c.Sha256).ToListAsync(ct));
        referenced.UnionWith(await db.JobParts.Select(p => p.Sha256).ToListAsync(ct));

        var cutoff = clock.GetUtcNow() - options.GcGracePeriod;
        var deleted = 0;
        long freed = 0;
        var stored = new List<StoredBlob>();
        await foreach (var blob in blobs.ListAsync(ct)) stored.Add(blob);
        foreach (var (sha, size, writtenAt) in stored)
        {
            if (referenced.Contains(sha) || writtenAt > cutoff) continue;
            await blobs.DeleteAsync(sha, ct);
            await db.Blobs.Where(b => b.Sha256 == sha).ExecuteDeleteAsync(ct);
            deleted++;
            freed += size;
        }
        // What writers that died mid-write left (partial files, unfinished multipart uploads), past the same grace.
        var partial = await blobs.CleanPartialAsync(cutoff, ct);
        if (deleted > 0 || partial > 0) LogCollected(logger, deleted, freed, partial);
        return new GcResult(deleted, freed);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Collected {Count} unreferenced blobs, {Bytes} bytes, and {Partial} unfinished writes")]
    private static partial void LogCollected(ILogger logger, int count, long bytes, int partial);
}

/// <summary>Runs <see cref="BlobCollector"/> every <see cref="StorageSettings.GcInterval"/>.</summary>
internal sealed partial class BlobCollectorService(IServiceScopeFactory scopes, StorageSettings options, TimeProvider clock, ILogger<BlobCollectorService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.GcInterval, clock);
        while (await NextTick(timer, stoppingToken))
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<BlobCollector>().CollectAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogFailed(logger, ex);
            }
        }
    }

    private static async Task<bool> NextTick(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false; // shutting down
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Blob collection failed; it will be tried again")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
