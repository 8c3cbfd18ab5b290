using System.Diagnostics;
using System.Reflection;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.EntityFrameworkCore;
using Stratus.Server.Jobs;
using Stratus.Server.Serving;
using Stratus.Server.Storage;

namespace Stratus.Server.Cluster;

/// <summary>
/// Writes this node's row (<see cref="NodeRow"/>: role, address, jobs, endpoints, CPU, memory) every
/// <see cref="ClusterSettings.NodeReportInterval"/>, and, in a cluster, its serving counters (<see cref="NodeCounterRow"/>)
/// for <see cref="ClusterCounters"/> on the other nodes. Marks the row stopped on a clean shutdown; rows of nodes
/// unseen for an hour are removed. A database that is away is waited out: the next report goes through.
/// </summary>
public sealed partial class NodeReporter(IServiceProvider services, IServiceScopeFactory scopes, JobSettings options, ClusterSettings settings,
    TimeProvider clock, ILogger<NodeReporter> logger) : BackgroundService
{
    /// <summary>How long a node may go unseen before the nodes page calls it lost: three reports, at least ten seconds.</summary>
    public TimeSpan LostAfter => TimeSpan.FromTicks(Math.Max(settings.NodeReportInterval.Ticks * 3, TimeSpan.FromSeconds(10).Ticks));

    private static readonly string Version = typeof(NodeReporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
    private readonly DateTimeOffset _started = clock.GetUtcNow();
    private readonly Dictionary<(string, ModelVersionRef, string), long> _published = [];
    private (TimeSpan Cpu, long At) _lastCpu = (TimeSpan.Zero, 0);
    private long _lastSweep;
    private bool _failing;

    /// <summary>Whether this node is a server (it answers the API and has a silo) or a worker.</summary>
    private bool IsServer => services.GetService<IServer>() is not null;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(settings.NodeReportInterval, clock);
        do
        {
            try
            {
                await ReportAsync(stoppingToken);
                _failing = false;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                if (!_failing) LogReportFailed(logger, ex.Message);
                _failing = true;
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(TimeSpan.FromSeconds(2));
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
            var now = clock.GetUtcNow();
            await db.Nodes.Where(n => n.Id == JobRunner.Me).ExecuteUpdateAsync(n => n.SetProperty(x => x.StoppedAt, now).SetProperty(x => x.SeenAt, now).SetProperty(x => x.JobsRunning, 0), limit.Token);
        }
        catch (Exception ex)
        {
            // Best effort on the way out (the database may be away or gone): the row will read as lost instead of stopped.
            LogStopNotRecorded(logger, ex.Message);
        }
    }

    private async Task ReportAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
        var now = clock.GetUtcNow();
        var node = await db.Nodes.FindAsync([JobRunner.Me], ct);
        if (node is null)
        {
            node = new NodeRow { Id = JobRunner.Me, Role = IsServer ? "server" : "worker", Host = Environment.MachineName, Version = Version, StartedAt = _started };
            db.Nodes.Add(node);
        }
        var runner = services.GetService<JobRunner>();
        var cache = services.GetService<ModelCache>();
        var (jobCpu, jobMemory) = runner?.Usage() ?? (TimeSpan.Zero, 0);
        using var self = Process.GetCurrentProcess();
        var cpu = self.TotalProcessorTime + jobCpu;
        var at = clock.GetTimestamp();
        if (_lastCpu.At != 0)
        {
            var elapsed = clock.GetElapsedTime(_lastCpu.At, at).TotalSeconds;
            node.CpuPercent = elapsed > 0 ? Math.Round(Math.Max(0, (cpu - _lastCpu.Cpu).TotalSeconds / elapsed * 100), 1) : 0;
        }
        _lastCpu = (cpu, at);
        node.MemoryBytes = self.WorkingSet64 + jobMemory;
        node.Url = services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        node.Silo = services.GetService<Orleans.Runtime.ILocalSiloDetails>()?.SiloAddress.ToParsableString();
        node.Slots = options.WorkerSlots;
        node.JobsRunning = runner?.Running ?? 0;
        node.EndpointsLoaded = cache?.Endpoints.Count ?? 0;
        node.SeenAt = now;
        node.StoppedAt = null;
        if (settings.Clustered && services.GetService<ServingMetrics>() is { } metrics) await PublishCountersAsync(db, metrics, now, ct);
        await db.SaveChangesAsync(ct);

        if (_lastSweep == 0 || clock.GetElapsedTime(_lastSweep) > TimeSpan.FromMinutes(1))
        {
            var gone = now - TimeSpan.FromHours(1);
            await db.Nodes.Where(n => n.SeenAt < gone).ExecuteDeleteAsync(ct);
            _lastSweep = clock.GetTimestamp();
        }
    }

    private async Task PublishCountersAsync(StratusDb db, ServingMetrics metrics, DateTimeOffset now, CancellationToken ct)
    {
        var all = metrics.All().Where(s => !_published.TryGetValue((s.Endpoint, s.Version, s.Role), out var requests) || requests != s.Stats.Requests).ToList();
        if (all.Count == 0) return;
        var rows = await db.NodeCounters.Where(c => c.Node == JobRunner.Me).ToDictionaryAsync(c => (c.Endpoint, c.ModelName, c.ModelVersion, c.Role), ct);
        foreach (var (endpoint, version, role, stats) in all)
        {
            if (!rows.TryGetValue((endpoint, version.Name, version.Version, role), out var row))
            {
                row = new NodeCounterRow { Node = JobRunner.Me, Endpoint = endpoint, ModelName = version.Name, ModelVersion = version.Version, Role = role, Buckets = "" };
                db.NodeCounters.Add(row);
            }
            row.Requests = stats.Requests;
            row.Errors = stats.Errors;
            row.Rejected = stats.Rejected;
            row.Rows = stats.Rows;
            row.Seconds = stats.Seconds;
            row.Buckets = ClusterCounters.FormatBuckets(stats.Buckets);
            row.Batches = stats.Batches;
            row.BatchRows = stats.BatchRows;
            row.UpdatedAt = now;
        }
        // Counted as published once saved; a failed save publishes them again next time.
        db.SavedChanges += (_, _) =>
        {
            foreach (var (endpoint, version, role, stats) in all) _published[(endpoint, version, role)] = stats.Requests;
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "This node's clean stop could not be recorded ({Reason}); the nodes page will show it lost")]
    private static partial void LogStopNotRecorded(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "This node could not report itself to the database ({Reason}); it keeps trying")]
    private static partial void LogReportFailed(ILogger logger, string reason);
}
