using Microsoft.Extensions.Options;
using Stratus.Server.Hosting;

namespace Stratus.Server.Monitoring;

/// <summary>
/// The one activation in the cluster that runs monitoring policies: scheduled checks when due, retrainings moved on
/// when their job ends, and checks asked for by hand, one at a time (so a schedule and a hand never start two
/// retrainings of an endpoint together).
/// </summary>
public interface IPolicyGrain : IGrainWithIntegerKey
{
    /// <summary>Runs an endpoint's policy now and returns the decision's id (preparing a retraining's data may take minutes on large datasets).</summary>
    [ResponseTimeout("00:30:00")]
    Task<long> CheckAsync(string endpoint);

    /// <summary>Activates the scheduler (idempotent).</summary>
    Task PokeAsync();
}

internal sealed class PolicyGrain(IServiceScopeFactory scopes, IOptions<StratusOptions> options, ILogger<PolicyGrain> logger) : Grain, IPolicyGrain
{
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var period = options.Value.MonitorTick;
        this.RegisterGrainTimer(static (grain, ct) => grain.TickAsync(ct), this,
            new GrainTimerCreationOptions { DueTime = period, Period = period, KeepAlive = true });
        return Task.CompletedTask;
    }

    public async Task<long> CheckAsync(string endpoint)
    {
        await using var scope = scopes.CreateAsyncScope();
        return (await scope.ServiceProvider.GetRequiredService<PolicyService>().CheckAsync(endpoint, "manual", CancellationToken.None)).Id;
    }

    public Task PokeAsync() => Task.CompletedTask;

    private Task TickAsync(CancellationToken ct) => GrainWork.TickAsync<PolicyService>(scopes, logger, (policies, token) => policies.TickAsync(token), ct);
}
