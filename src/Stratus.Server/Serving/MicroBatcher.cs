using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Stratus.Ml.Inference;

namespace Stratus.Server.Serving;

/// <summary>
/// Adaptive micro-batching for one model version of one endpoint (after BentoML's adaptive batching): concurrent
/// requests are scored in one model call. The first request of a batch waits for others only while requests have
/// been arriving faster than a recent batch took to score, and then at most that long and never more than the
/// endpoint's maximum delay, so a lone request never waits; a batch closes at the maximum rows. Up to
/// <c>workers</c> batches are scored at once; while they are, arrivals gather into the next one. A row that does
/// not fit the signature fails only its own request: that batch is then scored request by request.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "the SemaphoreSlim allocates no OS handle unless AvailableWaitHandle is read")]
public sealed class MicroBatcher
{
    private sealed record Item(IReadOnlyList<Dictionary<string, JsonElement>> Rows, TaskCompletionSource<IReadOnlyList<Prediction>> Done, long Enqueued);

    private readonly Channel<Item> _queue = Channel.CreateUnbounded<Item>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ModelPackage _package;
    private readonly VersionStats _stats;
    private readonly ReplicaSet _replicas;
    private readonly System.Collections.Concurrent.BlockingCollection<(List<Item> Batch, int Rows)> _batches = [];
    private readonly int _maxRows;
    private readonly bool _strict;
    private readonly double _maxDelaySeconds;
    private Item? _carry;
    private long _lastArrival = Stopwatch.GetTimestamp();
    private double _gapSeconds = 1; // recent time between arrivals (moving average)
    private double _batchSeconds; // recent time to score a batch (moving average)

    /// <param name="replicas">The endpoint's replicas: each batch is scored on a lane of one, so as many batches at once as lanes.</param>
    /// <param name="strict">Refuse categories the model never saw (the endpoint's <see cref="EndpointLimits.StrictCategories"/>).</param>
    public MicroBatcher(ModelPackage package, EndpointBatching settings, VersionStats stats, ReplicaSet replicas, bool strict = false)
    {
        _package = package;
        _stats = stats;
        _maxRows = settings.MaxBatchRows;
        _maxDelaySeconds = settings.MaxDelayMs / 1000;
        _strict = strict;
        _replicas = replicas;
        for (var i = 0; i < Math.Min(replicas.Scaling.MaxReplicas, Environment.ProcessorCount); i++)
        {
            new Thread(Work) { IsBackground = true, Name = "stratus-batch" }.Start();
        }
        _ = Task.Run(DispatchAsync);
    }

    /// <summary>
    /// Batches are scored on threads of their own rather than the thread pool, where under load they would queue
    /// behind the very requests waiting for them.
    /// </summary>
    private void Work()
    {
        foreach (var (batch, rows) in _batches.GetConsumingEnumerable())
        {
            try
            {
                Score(batch, rows);
            }
            finally
            {
                _replicas.Exit();
            }
        }
    }

    /// <summary>Scores a request's rows in the next batch; a retired batcher scores them at once.</summary>
    /// <exception cref="PredictionInputException">A row does not fit the model's signature (its index is the request's own).</exception>
    public Task<IReadOnlyList<Prediction>> PredictAsync(IReadOnlyList<Dictionary<string, JsonElement>> rows)
    {
        var now = Stopwatch.GetTimestamp();
        var gap = Stopwatch.GetElapsedTime(Interlocked.Exchange(ref _lastArrival, now), now).TotalSeconds;
        Volatile.Write(ref _gapSeconds, (0.9 * Volatile.Read(ref _gapSeconds)) + (0.1 * Math.Min(gap, 1)));
        var item = new Item(rows, new TaskCompletionSource<IReadOnlyList<Prediction>>(TaskCreationOptions.RunContinuationsAsynchronously), now);
        return _queue.Writer.TryWrite(item) ? item.Done.Task : Task.FromResult(_package.Predict(rows, _strict));
    }

    /// <summary>Stops taking requests (the endpoint was re-routed or unloaded); those queued are still scored.</summary>
    public void Retire() => _queue.Writer.TryComplete();

    private async Task DispatchAsync()
    {
        var reader = _queue.Reader;
        while (_carry is not null || await reader.WaitToReadAsync())
        {
            // A free lane first: while all are busy, arrivals gather into this batch by themselves.
            await _replicas.EnterAsync(_carry?.Enqueued ?? (reader.TryPeek(out var head) ? head.Enqueued : Stopwatch.GetTimestamp()));
            var first = _carry;
            _carry = null;
            if (first is null && !reader.TryRead(out first))
            {
                _replicas.Exit();
                continue;
            }
            var batch = new List<Item> { first };
            var rows = first.Rows.Count;
            var window = Math.Min(_maxDelaySeconds, Volatile.Read(ref _batchSeconds));
            var wait = Volatile.Read(ref _gapSeconds) < window; // company is likely within the window
            var deadline = first.Enqueued + (long)(window * Stopwatch.Frequency);
            while (rows < _maxRows)
            {
                if (reader.TryRead(out var next))
                {
                    if (rows + next.Rows.Count > _maxRows)
                    {
                        _carry = next; // opens the next batch
                        break;
                    }
                    batch.Add(next);
                    rows += next.Rows.Count;
                    continue;
                }
                var remaining = deadline - Stopwatch.GetTimestamp();
                if (!wait || remaining <= 0) break;
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds((double)remaining / Stopwatch.Frequency));
                try
                {
                    if (!await reader.WaitToReadAsync(timeout.Token)) break;
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            _batches.Add((batch, rows));
        }
        _batches.CompleteAdding();
    }

    private void Score(List<Item> batch, int rows)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var all = new List<IReadOnlyDictionary<string, JsonElement>>(rows);
            foreach (var item in batch) all.AddRange(item.Rows);
            var predictions = _package.Predict(all, _strict);
            var offset = 0;
            foreach (var item in batch)
            {
                item.Done.SetResult(predictions.Skip(offset).Take(item.Rows.Count).ToArray());
                offset += item.Rows.Count;
            }
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            Volatile.Write(ref _batchSeconds, (0.8 * Volatile.Read(ref _batchSeconds)) + (0.2 * seconds));
            _stats.Batch(rows);
        }
        catch (PredictionInputException) when (batch.Count > 1)
        {
            // Someone's row does not fit: score each request alone so that only its own request fails, with its own row index.
            foreach (var item in batch) Score([item], item.Rows.Count);
        }
        catch (Exception ex)
        {
            foreach (var item in batch) item.Done.TrySetException(ex);
        }
    }
}
