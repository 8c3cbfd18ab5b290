namespace Stratus.Server.Hosting;

/// <summary>What a singleton grain's timer does each tick: a service from a fresh scope does the work; a failure is logged and the next tick tries again.</summary>
internal static partial class GrainWork
{
    public static async Task TickAsync<TService>(IServiceScopeFactory scopes, ILogger logger, Func<TService, CancellationToken, Task> work, CancellationToken ct)
        where TService : notnull
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await work(scope.ServiceProvider.GetRequiredService<TService>(), ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogTickError(logger, typeof(TService).Name, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Service}'s periodic work failed; it will be tried again")]
    private static partial void LogTickError(ILogger logger, string service, Exception exception);
}
