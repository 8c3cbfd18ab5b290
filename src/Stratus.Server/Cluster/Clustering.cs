using System.Net;
using System.Net.Sockets;
using Orleans.Configuration;
using Stratus.Server.Storage;

namespace Stratus.Server.Cluster;

/// <summary>
/// The one wiring method of the cluster capability: the node's Orleans silo (on its own, or one of a cluster whose
/// membership and reminders are in PostgreSQL), its reports to the nodes table, the cluster-wide serving counters,
/// and keeping loaded endpoints in step with changes made on other nodes.
/// </summary>
public static class Clustering
{
    /// <summary>What a worker reports (it has no silo and serves nothing).</summary>
    public static void AddStratusNodeReports(this IServiceCollection services)
    {
        services.AddSingleton<NodeReporter>();
        services.AddHostedService(s => s.GetRequiredService<NodeReporter>());
    }

    public static void AddStratusCluster(this WebApplicationBuilder builder, ClusterSettings settings, StorageSettings storage)
    {
        builder.Services.AddStratusNodeReports();
        builder.Services.AddSingleton<ClusterCounters>();

        var siloPort = settings.SiloPort == 0 ? FreePort(11111) : settings.SiloPort;
        builder.UseOrleans(silo =>
        {
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = settings.ReminderPeriod < o.MinimumReminderPeriod ? settings.ReminderPeriod : o.MinimumReminderPeriod);
            if (settings.Cluster is not { } name)
            {
                var gatewayPort = settings.GatewayPort == 0 ? FreePort(30000) : settings.GatewayPort;
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
                o.ConnectionString = storage.ConnectionString;
            });
            silo.UseAdoNetReminderService(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = storage.ConnectionString;
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
    }

    /// <summary>
    /// The first free port from <paramref name="preferred"/> on (Orleans' usual ports), below the ephemeral range, so
    /// that two local servers can run side by side and the silo never takes a port the OS may hand out for --port 0.
    /// </summary>
    internal static int FreePort(int preferred)
    {
        for (var port = preferred; port < preferred + 1000; port++)
        {
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // taken; try the next
            }
        }
        throw new InvalidOperationException($"no free port for the Orleans silo between {preferred} and {preferred + 999}; set Stratus:SiloPort and Stratus:GatewayPort");
    }
}
