using System.Diagnostics;
using Stratus.Server.Hosting;

namespace Stratus.Server.Serving;

/// <summary>
/// Answers one prediction request on a loaded endpoint: admission (concurrency and queue limits), the version drawn
/// by traffic weight, the model call (alone, or in a micro-batch when the endpoint batches), the metrics, and the
/// shadow's copy. Both ways a request arrives (the fast path
/// and the routed endpoint) call this.
/// </summary>
public sealed class Scorer(ModelCache cache, ServingMetrics metrics, ShadowScoring shadows)
{
    public async Task<PredictResponse> ScoreAsync(LoadedEndpoint endpoint, PredictRequest request, string requestId, CancellationToken ct)
    {
        // Overload gets a quick 429 rather than a queue that grows until every request times out.
        using var turn = await endpoint.Limiter.AcquireAsync(1, ct);
        if (!turn.IsAcquired)
        {
            metrics.Throttled(endpoint.Name);
            throw ProblemException.TooMany($"endpoint '{endpoint.Name}' is scoring {endpoint.Limits.MaxConcurrency} requests with {endpoint.Limits.MaxQueue} waiting; try again shortly", 1);
        }
        var model = endpoint.Pick();
        cache.Touch(model.Sha256);
        var stats = metrics.For(endpoint.Name, model.Version, "live");
        var started = Stopwatch.GetTimestamp();
        PredictResponse response;
        try
        {
            var batcher = endpoint.Batcher(model, m => new MicroBatcher(m.Package, endpoint.Batching, stats, Math.Min(endpoint.Limits.MaxConcurrency, Environment.ProcessorCount)));
            response = await EndpointService.PredictAsync(model, request, requestId, batcher);
        }
        catch (Exception ex)
        {
            stats.Record(started, request.Instances?.Count ?? 0, ex is ProblemException { Status: < 500 } ? Outcome.Rejected : Outcome.Error);
            throw;
        }
        stats.Record(started, response.Predictions.Count, Outcome.Ok);
        if (endpoint.Shadow is { } shadow) shadows.Offer(new ShadowWork(endpoint.Name, shadow, request, response));
        return response;
    }
}
