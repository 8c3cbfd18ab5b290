using Microsoft.Extensions.Options;
using Stratus.Server.Hosting;

namespace Stratus.Server.Tracking;

/// <summary>The one activation in the cluster that fails runs whose owner stopped sending heartbeats.</summary>
public interface IRunReaperGrain : IGrainWithIntegerKey
{
    /// <summary>Activates the reaper (idempotent) and runs one sweep at once.</summary>
    Task<int> SweepAsync();
}

/// <summary>
/// A grain rather than a per-node timer: Orleans keeps exactly one activation cluster-wide and re-creates it on
/// another silo when its silo dies, so sweeps neither duplicate nor stop.
/// </summary>
internal sealed partial class RunReaperGrain(IServiceScopeFactory scopes, IOptions<StratusOptions> options, ILogger<RunReaperGrain> logger)
    : Grain, IRunReaperGrain
{
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var period = options.Value.RunReaperInterval;
        this.RegisterGrainTimer(static (grain, ct) => grain.SweepCoreAsync(ct), this,
            new GrainTimerCreationOptions { DueTime = period, Period = period, KeepAlive = true });
        return Task.CompletedTask;
    }

    public Task<int> SweepAsync() => SweepCoreAsync(CancellationToken.None);

    private async Task<int> SweepCoreAsync(CancellationToken ct)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var failed = await scope.ServiceProvider.GetRequiredService<TrackingService>().FailStaleRunsAsync(ct);
            if (failed > 0) LogFailed(logger, failed);
            return failed;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogSweepError(logger, ex);
            return 0;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Marked {Count} runs FAILED: their heartbeats stopped")]
    private static partial void LogFailed(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Run heartbeat sweep failed; it will be tried again")]
    private static partial void LogSweepError(ILogger logger, Exception exception);
}
