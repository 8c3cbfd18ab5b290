using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;

namespace Stratus.Server.Serving;

/// <summary>A request the live version answered, to be scored by the endpoint's shadow.</summary>
public sealed record ShadowWork(string Endpoint, LoadedModel Shadow, PredictRequest Request, PredictResponse Live);

/// <summary>
/// Scores copies of requests with endpoints' shadow versions, off the request path: the queue is bounded and a full
/// one drops the copy (counted in <c>stratus_shadow_dropped_total</c>) rather than slow or block a request. Each
/// comparison with the live answer is kept (the latest <see cref="Kept"/> per endpoint) and counted in the metrics
/// under role <c>shadow</c>; the shadow's predictions are never returned.
/// </summary>
public sealed partial class ShadowScoring(ServingMetrics metrics, TimeProvider clock, ILogger<ShadowScoring> logger) : BackgroundService
{
    public const int Kept = 200;

    private readonly Channel<ShadowWork> _queue = Channel.CreateBounded<ShadowWork>(new BoundedChannelOptions(1000) { SingleReader = true });
    private readonly ConcurrentDictionary<string, ConcurrentQueue<ShadowRecord>> _records = new(StringComparer.Ordinal);

    /// <summary>Queues a copy without waiting: false (and counted) when the queue is full.</summary>
    public bool Offer(ShadowWork work)
    {
        if (_queue.Writer.TryWrite(work)) return true;
        metrics.ShadowDropped();
        return false;
    }

    /// <summary>An endpoint's latest comparisons, newest first.</summary>
    public IReadOnlyList<ShadowRecord> Records(string endpoint) =>
        _records.TryGetValue(endpoint, out var records) ? [.. records.Reverse()] : [];

    /// <summary>Forgets an endpoint's comparisons (it was deleted or re-routed).</summary>
    public void Forget(string endpoint) => _records.TryRemove(endpoint, out _);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var work in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                Score(work);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void Score(ShadowWork work)
    {
        var started = Stopwatch.GetTimestamp();
        var stats = metrics.For(work.Endpoint, work.Shadow.Version, "shadow");
        var rows = work.Request.Instances.Count;
        int disagreements;
        string? error = null;
        try
        {
            var shadow = work.Shadow.Package.Predict(work.Request.Instances);
            stats.Record(started, rows, Outcome.Ok);
            disagreements = shadow.Where((p, i) => Differs(p, work.Live.Predictions[i])).Count();
        }
        catch (Exception ex)
        {
            // A shadow that fails costs the live answer nothing: it is recorded, and the next request goes on.
            stats.Record(started, rows, ex is Ml.Inference.PredictionInputException ? Outcome.Rejected : Outcome.Error);
            LogShadowFailed(logger, work.Endpoint, work.Shadow.Version.Name, work.Shadow.Version.Version, ex.Message);
            disagreements = rows;
            error = ex.Message;
        }
        var records = _records.GetOrAdd(work.Endpoint, _ => new ConcurrentQueue<ShadowRecord>());
        records.Enqueue(new ShadowRecord(work.Live.RequestId, clock.GetUtcNow(), work.Live.Model, work.Shadow.Version, rows, disagreements,
            Stopwatch.GetElapsedTime(started).TotalMilliseconds, error));
        while (records.Count > Kept && records.TryDequeue(out _))
        {
        }
    }

    private static bool Differs(Prediction shadow, Prediction live) => live.Value is { } value
        ? shadow.Value is not { } other || Math.Abs(other - value) > 0.01 * Math.Abs(value)
        : shadow.Label != live.Label;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shadow {Model}:{Version} of endpoint {Endpoint} failed: {Reason}")]
    private static partial void LogShadowFailed(ILogger logger, string endpoint, string model, int version, string reason);
}
