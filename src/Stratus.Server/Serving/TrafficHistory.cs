using System.Collections.Concurrent;

namespace Stratus.Server.Serving;

/// <summary>
/// Every endpoint's traffic second by second over the last <see cref="Seconds"/> seconds on every node of the cluster:
/// requests and errors per second and latency percentiles, read off the serving counters (<see cref="Cluster.ClusterCounters"/>:
/// this node's own and the others' last reports, so recording costs the request path nothing). What the console's live charts draw and <c>GET /api/v1/endpoints/{name}/traffic</c> returns.
/// </summary>
public sealed class TrafficHistory(Cluster.ClusterCounters counters, TimeProvider clock) : BackgroundService
{
    public const int Seconds = 300;

    private readonly ConcurrentDictionary<string, Queue<TrafficPoint>> _points = new(StringComparer.Ordinal);
    private Dictionary<string, StatsSnapshot> _last = [];

    /// <summary>The endpoint's points, oldest first (empty when it has had no request since this server started).</summary>
    public IReadOnlyList<TrafficPoint> For(string endpoint)
    {
        if (!_points.TryGetValue(endpoint, out var queue)) return [];
        lock (queue) return [.. queue];
    }

    /// <summary>Takes one sample: the change of every endpoint's counters since the previous one.</summary>
    public async Task SampleAsync(double elapsedSeconds, CancellationToken ct)
    {
        var now = await counters.LiveByEndpointAsync(ct);
        var time = clock.GetUtcNow();
        foreach (var (endpoint, snapshot) in now)
        {
            var before = _last.GetValueOrDefault(endpoint) ?? StatsSnapshot.Zero;
            if (snapshot.Requests < before.Requests) before = snapshot; // a dead node's counters left the sum: a quiet second, not a negative one
            static double? Ms(double? seconds) => seconds is { } s && double.IsFinite(s) ? s * 1000 : null;
            var point = new TrafficPoint(time, Math.Round(elapsedSeconds, 3), snapshot.Requests - before.Requests, snapshot.Errors - before.Errors, snapshot.Rejected - before.Rejected,
                Ms(snapshot.Quantile(before, 0.5)), Ms(snapshot.Quantile(before, 0.95)), Ms(snapshot.Quantile(before, 0.99)));
            var queue = _points.GetOrAdd(endpoint, _ => new Queue<TrafficPoint>(Seconds));
            lock (queue)
            {
                queue.Enqueue(point);
                while (queue.Count > Seconds) queue.Dequeue();
            }
        }
        _last = now;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), clock);
        var previous = clock.GetTimestamp();
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            await SampleAsync(clock.GetElapsedTime(previous).TotalSeconds, stoppingToken);
            previous = clock.GetTimestamp();
        }
    }
}
