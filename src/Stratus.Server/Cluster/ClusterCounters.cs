using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Stratus.Server.Jobs;
using Stratus.Server.Serving;
using Stratus.Server.Storage;

namespace Stratus.Server.Cluster;

/// <summary>
/// The serving counters of the whole cluster: this node's own, live, plus every other node's as of its last report
/// (<see cref="NodeReporter"/>). What rollouts judge and the traffic charts draw, so that a canary is judged on all
/// its requests whichever node answered them. On a node of its own it is that node's counters.
/// </summary>
public sealed class ClusterCounters(ServingMetrics metrics, IServiceScopeFactory scopes, ClusterSettings settings, TimeProvider clock) : IDisposable
{
    private readonly SemaphoreSlim _reading = new(1, 1);
    private IReadOnlyList<NodeCounterRow> _others = [];
    private long _readAt; // a timestamp; 0 before the first read

    /// <summary>One endpoint version's counters in one role, over every node.</summary>
    public async Task<StatsSnapshot> ForAsync(string endpoint, ModelVersionRef version, string role, CancellationToken ct)
    {
        var sum = metrics.For(endpoint, version, role).Snapshot();
        foreach (var row in await OthersAsync(ct))
        {
            if (row.Endpoint == endpoint && row.ModelName == version.Name && row.ModelVersion == version.Version && row.Role == role) sum = sum.Plus(ToSnapshot(row));
        }
        return sum;
    }

    /// <summary>Each endpoint's answered requests, all its live versions on every node together.</summary>
    public async Task<Dictionary<string, StatsSnapshot>> LiveByEndpointAsync(CancellationToken ct)
    {
        var sums = metrics.LiveByEndpoint();
        foreach (var row in await OthersAsync(ct))
        {
            if (row.Role != "live") continue;
            var s = ToSnapshot(row);
            sums[row.Endpoint] = sums.TryGetValue(row.Endpoint, out var sum) ? sum.Plus(s) : s;
        }
        return sums;
    }

    /// <summary>
    /// The other nodes' last reported counters, read at most twice per report interval; when the database cannot be
    /// read, the last ones read (the sums go on from this node's own).
    /// </summary>
    private async Task<IReadOnlyList<NodeCounterRow>> OthersAsync(CancellationToken ct)
    {
        if (!settings.Clustered) return [];
        if (Fresh(Volatile.Read(ref _readAt))) return _others;
        await _reading.WaitAsync(ct);
        try
        {
            if (Fresh(_readAt)) return _others;
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
            _others = await db.NodeCounters.AsNoTracking().Where(c => c.Node != JobRunner.Me).ToListAsync(ct);
            Volatile.Write(ref _readAt, clock.GetTimestamp());
        }
        catch (Exception ex) when (MetadataDatabase.IsUnavailable(ex))
        {
            // the database is away: keep the last counters read
        }
        finally
        {
            _reading.Release();
        }
        return _others;
    }

    public void Dispose() => _reading.Dispose();

    private bool Fresh(long readAt) => readAt != 0 && clock.GetElapsedTime(readAt) < settings.NodeReportInterval / 2;

    internal static StatsSnapshot ToSnapshot(NodeCounterRow row) =>
        new(row.Requests, row.Errors, row.Rejected, row.Rows, row.Seconds, ParseBuckets(row.Buckets), row.Batches, row.BatchRows);

    internal static string FormatBuckets(long[] buckets) => string.Join(',', buckets.Select(b => b.ToString(CultureInfo.InvariantCulture)));

    private static long[] ParseBuckets(string text)
    {
        var buckets = new long[ServingMetrics.Buckets.Length + 1];
        var parts = text.Split(',');
        for (var i = 0; i < Math.Min(parts.Length, buckets.Length); i++) buckets[i] = long.Parse(parts[i], CultureInfo.InvariantCulture);
        return buckets;
    }
}
