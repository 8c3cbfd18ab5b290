using Stratus.Server.Security;
using Stratus.Server.Cluster;

namespace Stratus.Server.Monitoring;

/// <summary>
/// An endpoint's monitoring policy: scheduled checks when due, its retrainings moved on when their job ends, and checks
/// asked for by hand, one at a time (so a schedule and a hand never start two retrainings of an endpoint together).
/// One activation per endpoint in the cluster: one endpoint's slow retraining never delays another's check.
/// </summary>
public interface IPolicyGrain : IGrainWithStringKey
{
    /// <summary>Runs the endpoint's policy now and returns the decision's id (preparing a retraining's data may take minutes on large datasets).</summary>
    [ResponseTimeout("00:30:00")]
    Task<long> CheckAsync();

    /// <summary>Starts watching the endpoint's policy (idempotent): until it is deleted, it goes on across the death of the node that holds it.</summary>
    Task PokeAsync();
}

internal sealed class PolicyGrain(IServiceScopeFactory scopes, MonitoringSettings options, ClusterSettings cluster, ILogger<PolicyGrain> logger)
    : RemindedGrain(cluster, logger), IPolicyGrain
{
    protected override TimeSpan Period => options.MonitorTick;

    public async Task<long> CheckAsync()
    {
        await KeepAsync();
        await using var scope = EndpointScope.Create(scopes, this.GetPrimaryKeyString());
        return (await scope.ServiceProvider.GetRequiredService<PolicyService>().CheckAsync(this.GetPrimaryKeyString(), "manual", CancellationToken.None)).Id;
    }

    public Task PokeAsync() => KeepAsync();

    protected override async Task<bool> WorkAsync(CancellationToken ct)
    {
        await using var scope = EndpointScope.Create(scopes, this.GetPrimaryKeyString());
        return await scope.ServiceProvider.GetRequiredService<PolicyService>().TickAsync(this.GetPrimaryKeyString(), ct);
    }
}
