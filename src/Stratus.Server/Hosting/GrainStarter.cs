using Stratus.Server.Monitoring;
using Stratus.Server.Serving;
using Stratus.Server.Tracking;

namespace Stratus.Server.Hosting;

/// <summary>
/// Activates the run reaper, and the rollouts and policies that were under way, once the silo is up, and again each
/// time Orleans declares a silo dead, so that the grains that lived there come back on a survivor at once rather than
/// at their next reminder (on every node: each wake is idempotent).
/// </summary>
internal sealed partial class GrainStarter(IGrainFactory grains, IServiceScopeFactory scopes, Orleans.Runtime.IClusterMembershipService membership, ILogger<GrainStarter> logger)
    : BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await WakeAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var dead = membership.CurrentSnapshot.Members.Values.Count(m => m.Status == Orleans.Runtime.SiloStatus.Dead);
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stoppingToken))
            {
                var now = snapshot.Members.Values.Count(m => m.Status == Orleans.Runtime.SiloStatus.Dead);
                if (now <= dead) continue;
                dead = now;
                for (var attempt = 1; attempt <= 3; attempt++)
                {
                    try
                    {
                        await WakeAsync(stoppingToken);
                        break;
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        // The directory may still point at the dead silo for a moment; the reminders are the backstop.
                        LogWakeFailed(logger, attempt, ex.Message);
                        await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // shutting down
        }
    }

    private async Task WakeAsync(CancellationToken ct)
    {
        await grains.GetGrain<IRunReaperGrain>(0).SweepAsync();
        await using var scope = scopes.CreateAsyncScope();
        foreach (var endpoint in await scope.ServiceProvider.GetRequiredService<RolloutService>().RunningAsync(ct))
            await grains.GetGrain<IRolloutGrain>(endpoint).PokeAsync();
        foreach (var endpoint in await scope.ServiceProvider.GetRequiredService<PolicyService>().WatchedAsync(ct))
            await grains.GetGrain<IPolicyGrain>(endpoint).PokeAsync();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Waking the grains of a dead silo failed (attempt {Attempt}): {Reason}")]
    private static partial void LogWakeFailed(ILogger logger, int attempt, string reason);
}
