using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Stratus.Server.Serving;

/// <summary>How a prediction request ended, as the metrics count it.</summary>
public enum Outcome
{
    Ok,

    /// <summary>The request did not fit the model's signature (a 4xx): the caller's fault, not the version's.</summary>
    Rejected,

    /// <summary>The model failed on a valid request.</summary>
    Error,
}

/// <summary>
/// Requests, rows, errors and latencies per endpoint, model version and role (<c>live</c> or <c>shadow</c>), kept with
/// lock-free counters so that counting costs the request path nothing measurable; written in Prometheus's text format
/// at <c>/metrics</c>, and read by rollouts to judge a new version.
/// </summary>
public sealed class ServingMetrics
{
    /// <summary>Upper bounds of the latency histogram's buckets, in seconds.</summary>
    public static readonly double[] Buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly ConcurrentDictionary<(string Endpoint, ModelVersionRef Version, string Role), VersionStats> _stats = new();
    private long _shadowDropped, _loads, _loadTicks, _unloads;

    /// <summary>A model package loaded for serving (a cold start) in <paramref name="elapsed"/>.</summary>
    public void ModelLoaded(TimeSpan elapsed)
    {
        Interlocked.Increment(ref _loads);
        Interlocked.Add(ref _loadTicks, elapsed.Ticks);
    }

    /// <summary>A model package unloaded: to stay under the memory cap, or with an endpoint scaled to zero.</summary>
    public void ModelUnloaded() => Interlocked.Increment(ref _unloads);

    private sealed class ReplicaGauge
    {
        public int Count;
        public long ColdStarts, ColdTicks;
    }

    private readonly ConcurrentDictionary<string, ReplicaGauge> _replicas = new(StringComparer.Ordinal);

    /// <summary>An endpoint now runs <paramref name="count"/> replicas; <paramref name="wake"/> is how long a request waited for the first (a cold start from zero).</summary>
    public void Replicas(string endpoint, int count, TimeSpan? wake)
    {
        var gauge = _replicas.GetOrAdd(endpoint, _ => new ReplicaGauge());
        Volatile.Write(ref gauge.Count, count);
        if (wake is not { } elapsed) return;
        Interlocked.Increment(ref gauge.ColdStarts);
        Interlocked.Add(ref gauge.ColdTicks, elapsed.Ticks);
    }
    private readonly ConcurrentDictionary<string, StrongBox<long>> _throttled = new(StringComparer.Ordinal);

    /// <summary>A request refused with 429: the endpoint was at its concurrency limit with a full queue.</summary>
    public void Throttled(string endpoint) => Interlocked.Increment(ref _throttled.GetOrAdd(endpoint, _ => new StrongBox<long>()).Value);

    public VersionStats For(string endpoint, ModelVersionRef version, string role) => _stats.GetOrAdd((endpoint, version, role), _ => new VersionStats());

    /// <summary>Each endpoint's answered requests (all its live versions together) at this moment.</summary>
    public Dictionary<string, StatsSnapshot> LiveByEndpoint()
    {
        var sums = new Dictionary<string, StatsSnapshot>(StringComparer.Ordinal);
        foreach (var (key, stats) in _stats)
        {
            if (key.Role != "live") continue;
            var s = stats.Snapshot();
            sums[key.Endpoint] = sums.TryGetValue(key.Endpoint, out var sum) ? sum.Plus(s) : s;
        }
        return sums;
    }

    /// <summary>Every series' counters at this moment.</summary>
    public IReadOnlyList<(string Endpoint, ModelVersionRef Version, string Role, StatsSnapshot Stats)> All() =>
        [.. _stats.Select(s => (s.Key.Endpoint, s.Key.Version, s.Key.Role, s.Value.Snapshot()))];

    private long _captured, _captureDropped;

    /// <summary>Rows written to the capture files.</summary>
    public void Captured(int rows) => Interlocked.Add(ref _captured, rows);

    /// <summary>A request not captured because the capture queue was full.</summary>
    public void CaptureDropped() => Interlocked.Increment(ref _captureDropped);

    /// <summary>A shadow request not scored because the shadow queue was full.</summary>
    public void ShadowDropped() => Interlocked.Increment(ref _shadowDropped);

    /// <summary>
    /// Every series in Prometheus's text exposition format (version 0.0.4): the node's own, and those of the endpoints
    /// (known by their keys) that <paramref name="shows"/> lets the reader see.
    /// </summary>
    public string Write(int modelsLoaded, long bytesLoaded, Func<string, bool> shows)
    {
        var text = new StringBuilder();
        var series = _stats.Where(s => shows(s.Key.Endpoint)).OrderBy(s => s.Key.Endpoint, StringComparer.Ordinal).ThenBy(s => s.Key.Version.Name, StringComparer.Ordinal)
            .ThenBy(s => s.Key.Version.Version).ThenBy(s => s.Key.Role, StringComparer.Ordinal).Select(s => (Labels: Labels(s.Key), Stats: s.Value.Snapshot())).ToList();
        void Counter(string name, string help, Func<StatsSnapshot, long> value)
        {
            text.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(" counter\n");
            foreach (var (labels, stats) in series) text.Append(name).Append('{').Append(labels).Append("} ").Append(value(stats)).Append('\n');
        }
        Counter("stratus_endpoint_requests_total", "Prediction requests answered, by endpoint, model version and role.", s => s.Requests);
        Counter("stratus_endpoint_errors_total", "Requests on which the model failed.", s => s.Errors);
        Counter("stratus_endpoint_rejected_total", "Requests refused for not fitting the model's signature.", s => s.Rejected);
        Counter("stratus_endpoint_rows_total", "Rows scored.", s => s.Rows);
        Counter("stratus_endpoint_batches_total", "Batched model calls (micro-batching); rows per call = batch_rows / batches.", s => s.Batches);
        Counter("stratus_endpoint_batch_rows_total", "Rows scored in batched model calls.", s => s.BatchRows);
        const string latency = "stratus_endpoint_request_duration_seconds";
        text.Append("# HELP ").Append(latency).Append(" Time to answer a request, from its arrival at the endpoint (a wait for a turn included) to its predictions.\n# TYPE ").Append(latency).Append(" histogram\n");
        foreach (var (labels, stats) in series)
        {
            long cumulative = 0;
            for (var b = 0; b <= Buckets.Length; b++)
            {
                cumulative += stats.Buckets[b];
                var bound = b < Buckets.Length ? Buckets[b].ToString(CultureInfo.InvariantCulture) : "+Inf";
                text.Append(latency).Append("_bucket{").Append(labels).Append(",le=\"").Append(bound).Append("\"} ").Append(cumulative).Append('\n');
            }
            text.Append(latency).Append("_sum{").Append(labels).Append("} ").Append(stats.Seconds.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
            text.Append(latency).Append("_count{").Append(labels).Append("} ").Append(cumulative).Append('\n');
        }
        text.Append("# HELP stratus_endpoint_throttled_total Requests refused with 429: the endpoint was at its concurrency limit with a full queue.\n# TYPE stratus_endpoint_throttled_total counter\n");
        foreach (var (endpoint, count) in _throttled.Where(t => shows(t.Key)).OrderBy(t => t.Key, StringComparer.Ordinal))
            text.Append("stratus_endpoint_throttled_total{endpoint=\"").Append(Escape(endpoint)).Append("\"} ").Append(Interlocked.Read(ref count.Value)).Append('\n');
        var replicas = _replicas.Where(r => shows(r.Key)).OrderBy(r => r.Key, StringComparer.Ordinal).ToList();
        text.Append("# HELP stratus_endpoint_replicas Replicas of the endpoint running on this server.\n# TYPE stratus_endpoint_replicas gauge\n");
        foreach (var (endpoint, gauge) in replicas)
            text.Append("stratus_endpoint_replicas{endpoint=\"").Append(Escape(endpoint)).Append("\"} ").Append(Volatile.Read(ref gauge.Count)).Append('\n');
        text.Append("# HELP stratus_endpoint_cold_starts_total Requests that found the endpoint scaled to zero and woke it.\n# TYPE stratus_endpoint_cold_starts_total counter\n");
        foreach (var (endpoint, gauge) in replicas)
            text.Append("stratus_endpoint_cold_starts_total{endpoint=\"").Append(Escape(endpoint)).Append("\"} ").Append(Interlocked.Read(ref gauge.ColdStarts)).Append('\n');
        text.Append("# HELP stratus_endpoint_cold_start_seconds_total Time those requests waited, from arrival (the models' load included) to their model call.\n# TYPE stratus_endpoint_cold_start_seconds_total counter\n");
        foreach (var (endpoint, gauge) in replicas)
        {
            text.Append("stratus_endpoint_cold_start_seconds_total{endpoint=\"").Append(Escape(endpoint)).Append("\"} ")
                .Append(TimeSpan.FromTicks(Interlocked.Read(ref gauge.ColdTicks)).TotalSeconds.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        }
        text.Append("# HELP stratus_shadow_dropped_total Shadow requests not scored because the shadow queue was full.\n# TYPE stratus_shadow_dropped_total counter\n")
            .Append("stratus_shadow_dropped_total ").Append(Interlocked.Read(ref _shadowDropped)).Append('\n');
        text.Append("# HELP stratus_capture_rows_total Rows of answered requests captured for monitoring.\n# TYPE stratus_capture_rows_total counter\n")
            .Append("stratus_capture_rows_total ").Append(Interlocked.Read(ref _captured)).Append('\n');
        text.Append("# HELP stratus_capture_dropped_total Requests not captured because the capture queue was full.\n# TYPE stratus_capture_dropped_total counter\n")
            .Append("stratus_capture_dropped_total ").Append(Interlocked.Read(ref _captureDropped)).Append('\n');
        text.Append("# HELP stratus_models_loaded Model packages in memory.\n# TYPE stratus_models_loaded gauge\nstratus_models_loaded ").Append(modelsLoaded).Append('\n');
        text.Append("# HELP stratus_models_loaded_bytes Their size as stored, held against the cap.\n# TYPE stratus_models_loaded_bytes gauge\nstratus_models_loaded_bytes ").Append(bytesLoaded).Append('\n');
        text.Append("# HELP stratus_model_loads_total Model packages loaded (cold starts).\n# TYPE stratus_model_loads_total counter\nstratus_model_loads_total ").Append(Interlocked.Read(ref _loads)).Append('\n');
        text.Append("# HELP stratus_model_load_seconds_total Time spent loading them.\n# TYPE stratus_model_load_seconds_total counter\nstratus_model_load_seconds_total ")
            .Append(TimeSpan.FromTicks(Interlocked.Read(ref _loadTicks)).TotalSeconds.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        text.Append("# HELP stratus_model_unloads_total Model packages unloaded: under the memory cap, or with an endpoint scaled to zero.\n# TYPE stratus_model_unloads_total counter\nstratus_model_unloads_total ").Append(Interlocked.Read(ref _unloads)).Append('\n');
        return text.ToString();
    }

    private static string Labels((string Endpoint, ModelVersionRef Version, string Role) key) =>
        $"endpoint=\"{Escape(key.Endpoint)}\",model=\"{Escape(key.Version.Name)}\",version=\"{key.Version.Version}\",role=\"{key.Role}\"";

    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}

/// <summary>A version's counters at one moment; two of them give the rates and latencies in between.</summary>
public sealed record StatsSnapshot(long Requests, long Errors, long Rejected, long Rows, double Seconds, long[] Buckets, long Batches = 0, long BatchRows = 0)
{
    /// <summary>No request yet.</summary>
    public static StatsSnapshot Zero => new(0, 0, 0, 0, 0, new long[ServingMetrics.Buckets.Length + 1]);

    /// <summary>Two sets of counters together (two versions of an endpoint, or one version on two nodes).</summary>
    public StatsSnapshot Plus(StatsSnapshot other) => new(Requests + other.Requests, Errors + other.Errors, Rejected + other.Rejected, Rows + other.Rows,
        Seconds + other.Seconds, [.. Buckets.Zip(other.Buckets, (a, b) => a + b)], Batches + other.Batches, BatchRows + other.BatchRows);

    /// <summary>The latency below which a share <paramref name="q"/> of the requests since <paramref name="before"/> ended (a bucket's upper bound), or null when none ended.</summary>
    public double? Quantile(StatsSnapshot before, double q)
    {
        var counts = Buckets.Select((c, i) => c - before.Buckets[i]).ToArray();
        var total = counts.Sum();
        if (total == 0) return null;
        long seen = 0;
        for (var b = 0; b < counts.Length; b++)
        {
            seen += counts[b];
            if (seen >= q * total) return b < ServingMetrics.Buckets.Length ? ServingMetrics.Buckets[b] : double.PositiveInfinity;
        }
        return double.PositiveInfinity;
    }
}

/// <summary>The counters of one endpoint version and role.</summary>
public sealed class VersionStats
{
    private long _requests, _errors, _rejected, _rows, _ticks, _batches, _batchRows;
    private readonly long[] _buckets = new long[ServingMetrics.Buckets.Length + 1];

    public void Record(long startedTimestamp, int rows, Outcome outcome)
    {
        var elapsed = Stopwatch.GetElapsedTime(startedTimestamp);
        Interlocked.Increment(ref _requests);
        if (outcome == Outcome.Error) Interlocked.Increment(ref _errors);
        else if (outcome == Outcome.Rejected) Interlocked.Increment(ref _rejected);
        else Interlocked.Add(ref _rows, rows);
        Interlocked.Add(ref _ticks, elapsed.Ticks);
        var seconds = elapsed.TotalSeconds;
        var bucket = 0;
        while (bucket < ServingMetrics.Buckets.Length && seconds > ServingMetrics.Buckets[bucket]) bucket++;
        Interlocked.Increment(ref _buckets[bucket]);
    }

    /// <summary>One batched model call of <paramref name="rows"/> rows (micro-batching).</summary>
    public void Batch(int rows)
    {
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _batchRows, rows);
    }

    public StatsSnapshot Snapshot() => new(Interlocked.Read(ref _requests), Interlocked.Read(ref _errors), Interlocked.Read(ref _rejected),
        Interlocked.Read(ref _rows), TimeSpan.FromTicks(Interlocked.Read(ref _ticks)).TotalSeconds, [.. _buckets], Interlocked.Read(ref _batches), Interlocked.Read(ref _batchRows));
}
