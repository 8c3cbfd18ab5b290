using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Stratus.Server.Storage;

/// <summary>The storage capability's one wiring method: the metadata database, the blob store, their readiness checks, and on API servers garbage collection.</summary>
public static class StorageWiring
{
    public static void AddStratusStorage(this IServiceCollection services, StorageSettings settings, bool collectGarbage)
    {
        services.AddStratusDatabase(settings);
        services.AddStratusBlobStore(settings);
        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);
        if (!collectGarbage) return;
        services.AddScoped<BlobCollector>();
        services.AddHostedService<BlobCollectorService>();
    }

    /// <summary>
    /// At a node's start, after the schema: its key-encryption keys checked against the database's (a first start makes
    /// them), and the metadata database's own key loaded for the sealed columns.
    /// </summary>
    public static async Task OpenEncryptionAsync(this IServiceProvider services, StratusDb db, CancellationToken ct)
    {
        await services.GetRequiredService<DataKeys>().CheckAsync(db, ct);
        await services.GetRequiredService<ColumnSealer>().LoadAsync(ct);
    }
}

internal sealed class DatabaseHealthCheck(StratusDb db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        await db.Database.CanConnectAsync(cancellationToken)
            ? HealthCheckResult.Healthy(db.Database.ProviderName?.Split('.')[^1])
            : HealthCheckResult.Unhealthy("the metadata database is unreachable");
}
