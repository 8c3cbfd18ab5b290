using System.Net;
using System.Net.Sockets;
using Orleans.Configuration;
using Stratus.Server.Hosting;
using Stratus.Server.Monitoring;
using Stratus.Server.Serving;
using Stratus.Server.Storage;
using Stratus.Server.Tracking;

namespace Stratus.Server.Cluster;

/// <summary>
/// The one wiring method of the cluster capability: the node's Orleans silo (on its own, or one of a cluster whose
/// membership and reminders are in PostgreSQL), its reports to the nodes table, the cluster-wide serving counters,
/// and keeping loaded endpoints in step with changes made on other nodes.
/// </summary>
public static class Clustering
{
    /// <summary>Reads and checks the cluster settings (bound from the <c>Stratus</c> section, as <see cref="StratusOptions"/>).</summary>
    public static ClusterSettings Settings(IConfiguration configuration, StratusOptions options)
    {
        var settings = configuration.GetSection(StratusOptions.Section).Get<ClusterSettings>() ?? new ClusterSettings();
        if (settings.Problems(options.Database) is { Count: > 0 } problems) throw new StartupException(string.Join("; ", problems));
        return settings;
    }

    /// <summary>What a worker reports (it has no silo and serves nothing).</summary>
    public static void AddStratusNodeReports(this IServiceCollection services, ClusterSettings settings)
    {
        services.AddSingleton(settings);
        services.AddSingleton<NodeReporter>();
        services.AddHostedService(s => s.GetRequiredService<NodeReporter>());
    }

    public static void AddStratusCluster(this WebApplicationBuilder builder, StratusOptions options, ClusterSettings settings)
    {
        builder.Services.AddStratusNodeReports(settings);
        builder.Services.AddSingleton<ClusterCounters>();
        if (settings.Clustered) builder.Services.AddHostedService<EndpointSync>();

        var siloPort = options.SiloPort == 0 ? StratusServer.FreePort(11111) : options.SiloPort;
        builder.UseOrleans(silo =>
        {
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = settings.ReminderPeriod < o.MinimumReminderPeriod ? settings.ReminderPeriod : o.MinimumReminderPeriod);
            if (settings.Cluster is not { } name)
            {
                var gatewayPort = options.GatewayPort == 0 ? StratusServer.FreePort(30000) : options.GatewayPort;
                silo.UseLocalhostClustering(siloPort, gatewayPort, serviceId: "stratus", clusterId: "stratus-embedded");
                silo.UseInMemoryReminderService();
                return;
            }
            silo.Configure<ClusterOptions>(o =>
            {
                o.ServiceId = "stratus";
                o.ClusterId = name;
            });
            silo.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = options.ConnectionString;
            });
            silo.UseAdoNetReminderService(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = options.ConnectionString;
            });
            // No gateway: nothing outside the cluster talks Orleans to it (the API is HTTP).
            if (settings.AdvertiseAddress is { } address) silo.ConfigureEndpoints(IPAddress.Parse(address), siloPort, 0, listenOnAnyHostAddress: false);
            else silo.ConfigureEndpoints(Dns.GetHostName(), siloPort, 0, AddressFamily.InterNetwork, listenOnAnyHostAddress: true);
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                // A dead silo is declared after three missed probes: about 3 x ProbeTimeout instead of Orleans' 15 s.
                o.ProbeTimeout = settings.ProbeTimeout;
                o.NumMissedProbesLimit = 3;
                o.TableRefreshTimeout = TimeSpan.FromSeconds(10);
            });
        });
        builder.Services.AddHostedService<GrainStarter>(); // after the silo's own: it calls grains
    }
}

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
