using System.Diagnostics;
using Stratus.Server.Kernel;

namespace Stratus.Server.Serving;

/// <summary>
/// Answers one prediction request on a loaded endpoint: admission (concurrency and queue limits), the version drawn
/// by traffic weight, the model call (alone, or in a micro-batch when the endpoint batches) within the endpoint's
/// timeout, the metrics, the shadow's copy and the capture. Both ways a request arrives (the fast path and the routed endpoint)
/// call this.
/// </summary>
public sealed class Scorer(ModelCache cache, ServingMetrics metrics, ShadowScoring shadows, RequestCapture capture, TimeProvider clock)
{
    /// <param name="arrived">When the request arrived (a Stopwatch timestamp), if before this call: its endpoint's models were loaded for it.</param>
    public Task<PredictResponse> ScoreAsync(LoadedEndpoint endpoint, PredictRequest request, string requestId, CancellationToken ct, long? arrived = null)
    {
        var activity = StratusTelemetry.Source.StartActivity("predict");
        return activity is null ? ScoreCoreAsync(endpoint, request, requestId, arrived, ct) : TracedAsync(activity, endpoint, request, requestId, arrived, ct);
    }

    private async Task<PredictResponse> TracedAsync(Activity activity, LoadedEndpoint endpoint, PredictRequest request, string requestId, long? arrived, CancellationToken ct)
    {
        using (activity)
        {
            activity.SetTag("stratus.endpoint", endpoint.Name);
            activity.SetTag("stratus.request_id", requestId);
            try
            {
                var response = await ScoreCoreAsync(endpoint, request, requestId, arrived, ct);
                activity.SetTag("stratus.model", $"{response.Model.Name}:{response.Model.Version}");
                activity.SetTag("stratus.rows", response.Predictions.Count);
                return response;
            }
            catch (Exception ex)
            {
                // A refused request (4xx) is the caller's fault, not a failure of the server's span.
                var status = ex is ProblemException problem ? problem.Status : 500;
                activity.SetTag("stratus.status", status);
                if (status >= 500) activity.SetStatus(ActivityStatusCode.Error, ex.Message);
                throw;
            }
        }
    }

    private async Task<PredictResponse> ScoreCoreAsync(LoadedEndpoint endpoint, PredictRequest request, string requestId, long? arrived, CancellationToken ct)
    {
        var started = arrived ?? Stopwatch.GetTimestamp();
        var timeout = endpoint.Limits.TimeoutMs is { } ms ? TimeSpan.FromMilliseconds(ms) : (TimeSpan?)null;
        using var deadline = timeout is not null ? CancellationTokenSource.CreateLinkedTokenSource(ct) : null;
        deadline?.CancelAfter(timeout!.Value);
        System.Threading.RateLimiting.RateLimitLease turn;
        try
        {
            turn = await endpoint.Limiter.AcquireAsync(1, deadline?.Token ?? ct);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            metrics.Throttled(endpoint.Name);
            throw new ProblemException(503, "Service unavailable", $"endpoint '{endpoint.Name}' had no turn free within its timeout of {endpoint.Limits.TimeoutMs} ms; try again shortly") { RetryAfterSeconds = 1 };
        }
        var release = true;
        try
        {
            // Overload gets a quick 429 rather than a queue that grows until every request times out.
            if (!turn.IsAcquired)
            {
                metrics.Throttled(endpoint.Name);
                throw ProblemException.TooMany($"endpoint '{endpoint.Name}' is scoring {endpoint.Limits.MaxConcurrency} requests with {endpoint.Limits.MaxQueue} waiting; try again shortly", 1);
            }
            var model = endpoint.Pick();
            cache.Touch(model.Sha256);
            var stats = metrics.For(endpoint.Name, model.Version, "live");
            PredictResponse response;
            try
            {
                var batcher = endpoint.Batching.Enabled ? endpoint.Batcher(model, m => new MicroBatcher(m.Package, endpoint.Batching, stats, endpoint.Replicas, endpoint.Limits.StrictCategories)) : null;
                if (timeout is null)
                {
                    response = await CallAsync(endpoint, model, request, requestId, batcher, started);
                }
                else
                {
                    // A model call cannot be interrupted: past the deadline the client is answered and the call
                    // finishes in the background, keeping its turn so that timeouts cannot pile up work.
                    var work = Task.Run(async () => await CallAsync(endpoint, model, request, requestId, batcher, started), CancellationToken.None);
                    var remaining = timeout.Value - Stopwatch.GetElapsedTime(started);
                    try
                    {
                        response = await work.WaitAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, ct);
                    }
                    catch (TimeoutException)
                    {
                        release = false;
                        _ = work.ContinueWith(_ => turn.Dispose(), TaskScheduler.Default);
                        throw new ProblemException(504, "Gateway timeout", $"endpoint '{endpoint.Name}' ({model.Version.Name}:{model.Version.Version}) did not answer within its timeout of {endpoint.Limits.TimeoutMs} ms");
                    }
                }
            }
            catch (Exception ex)
            {
                stats.Record(started, request.Instances?.Count ?? 0, ex is ProblemException { Status: < 500 } ? Outcome.Rejected : Outcome.Error);
                throw;
            }
            stats.Record(started, response.Predictions.Count, Outcome.Ok);
            if (endpoint.Shadow is { } shadow) shadows.Offer(new ShadowWork(endpoint.Name, shadow, request, response));
            if (endpoint.Sampled()) capture.Offer(new CaptureWork(endpoint.Name, clock.GetUtcNow(), request, response));
            return response;
        }
        finally
        {
            if (release) turn.Dispose();
        }
    }

    /// <summary>The model call, on a lane of one of the endpoint's replicas (a batcher takes lanes for its batches).</summary>
    private static async ValueTask<PredictResponse> CallAsync(LoadedEndpoint endpoint, LoadedModel model, PredictRequest request, string requestId, MicroBatcher? batcher, long arrived)
    {
        using var span = StratusTelemetry.Source.StartActivity("model call");
        span?.SetTag("stratus.model", $"{model.Version.Name}:{model.Version.Version}");
        span?.SetTag("stratus.batched", batcher is not null);
        if (batcher is not null) return await EndpointService.PredictAsync(model, request, requestId, batcher);
        await endpoint.Replicas.EnterAsync(arrived);
        try
        {
            return await EndpointService.PredictAsync(model, request, requestId, strict: endpoint.Limits.StrictCategories);
        }
        finally
        {
            endpoint.Replicas.Exit();
        }
    }
}
