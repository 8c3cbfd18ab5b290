using Stratus.Server.Cluster;

namespace Stratus.Server.Tracking;

/// <summary>The one activation in the cluster that fails runs whose owner stopped sending heartbeats.</summary>
public interface IRunReaperGrain : IGrainWithIntegerKey
{
    /// <summary>Activates the reaper (idempotent) and runs one sweep at once.</summary>
    Task<int> SweepAsync();
}

/// <summary>
/// A grain rather than a per-node timer: Orleans keeps exactly one activation cluster-wide, and its reminder activates
/// it again on a survivor when its node dies, so sweeps neither duplicate nor stop.
/// </summary>
internal sealed partial class RunReaperGrain(IServiceScopeFactory scopes, TrackingSettings options, ClusterSettings cluster, ILogger<RunReaperGrain> logger)
    : RemindedGrain(cluster, logger), IRunReaperGrain
{
    protected override TimeSpan Period => options.RunReaperInterval;

    public async Task<int> SweepAsync()
    {
        await KeepAsync();
        return await SweepCoreAsync(CancellationToken.None);
    }

    protected override async Task<bool> WorkAsync(CancellationToken ct)
    {
        await SweepCoreAsync(ct);
        return true;
    }

    private async Task<int> SweepCoreAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var failed = await scope.ServiceProvider.GetRequiredService<TrackingService>().FailStaleRunsAsync(ct);
        if (failed > 0) LogFailed(logger, failed);
        return failed;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Marked {Count} runs FAILED: their heartbeats stopped")]
    private static partial void LogFailed(ILogger logger, int count);
}
