using Stratus.Server.Cluster;

namespace Stratus.Server.Serving;

/// <summary>Brings this node's loaded endpoints in step with changes other nodes made (<see cref="EndpointService.SyncAsync"/>), every report interval.</summary>
internal sealed partial class EndpointSync(IServiceScopeFactory scopes, ClusterSettings settings, TimeProvider clock, ILogger<EndpointSync> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(settings.NodeReportInterval, clock);
        var failing = false;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<EndpointService>().SyncAsync(stoppingToken);
                failing = false;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // The database or the store is away: endpoints go on answering with what they have.
                if (!failing) LogSyncFailed(logger, ex.Message);
                failing = true;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Endpoints could not be brought in step with the cluster ({Reason}); they answer with what they have and it keeps trying")]
    private static partial void LogSyncFailed(ILogger logger, string reason);
}
