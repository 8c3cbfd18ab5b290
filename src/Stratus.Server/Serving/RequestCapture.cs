using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Stratus.Server.Hosting;

namespace Stratus.Server.Serving;

/// <summary>An answered request chosen for capture: its rows and the predictions it got.</summary>
public sealed record CaptureWork(string Endpoint, DateTimeOffset Time, PredictRequest Request, PredictResponse Response);

/// <summary>
/// Request and response capture, the raw material of monitoring: a sampled share of each endpoint's answered requests
/// goes through a bounded queue (a full one drops the capture and counts it, never slowing or blocking a request) to
/// files of JSON lines, one line per row with its inputs and prediction, under
/// <c>DATA_DIR/capture/ENDPOINT/</c>. A file appears whole (written aside, then renamed), about once a second per
/// endpoint while requests flow; DuckDB reads them as they are (<c>read_json_auto('capture/fraud/*.jsonl')</c>).
/// Files older than <see cref="StratusOptions.CaptureRetentionDays"/> are deleted.
/// </summary>
public sealed partial class RequestCapture(IOptions<StratusOptions> options, ServingMetrics metrics, TimeProvider clock, ILogger<RequestCapture> logger) : BackgroundService
{
    private const int Capacity = 10_000;
    private readonly Channel<CaptureWork> _queue = Channel.CreateBounded<CaptureWork>(new BoundedChannelOptions(Capacity) { SingleReader = true });
    private readonly string _root = Path.Combine(options.Value.DataDir, "capture");
    private long _sequence;

    /// <summary>Queues a capture without waiting: false (and counted) when the queue is full.</summary>
    public bool Offer(CaptureWork work)
    {
        if (_queue.Writer.TryWrite(work)) return true;
        metrics.CaptureDropped();
        return false;
    }

    /// <summary>Where an endpoint's capture files are.</summary>
    public string Folder(string endpoint) => Path.Combine(_root, endpoint);

    /// <summary>The latest captured rows of an endpoint, newest first.</summary>
    public async Task<IReadOnlyList<CapturedRow>> LatestAsync(string endpoint, int limit, CancellationToken ct)
    {
        var folder = Folder(endpoint);
        if (!Directory.Exists(folder)) return [];
        var rows = new List<CapturedRow>();
        foreach (var file in Directory.EnumerateFiles(folder, "*.jsonl").Order(StringComparer.Ordinal).Reverse())
        {
            var lines = await File.ReadAllLinesAsync(file, ct);
            for (var i = lines.Length - 1; i >= 0 && rows.Count < limit; i--)
            {
                if (JsonSerializer.Deserialize(lines[i], StratusJsonContext.Default.CapturedRow) is { } row) rows.Add(row);
            }
            if (rows.Count >= limit) break;
        }
        return rows;
    }

    /// <summary>Deletes an endpoint's captures (the endpoint was deleted).</summary>
    public void Forget(string endpoint)
    {
        try
        {
            if (Directory.Exists(Folder(endpoint))) Directory.Delete(Folder(endpoint), recursive: true);
        }
        catch (IOException ex)
        {
            LogCaptureFailed(logger, endpoint, ex.Message);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pending = new Dictionary<string, Pending>(StringComparer.Ordinal);
        var nextFlush = clock.GetUtcNow().AddSeconds(1);
        var nextSweep = clock.GetUtcNow();
        Task<bool>? more = null;
        try
        {
            while (true)
            {
                // Drain what came, write one file per endpoint about once a second.
                var drained = 0;
                while (_queue.Reader.TryRead(out var work))
                {
                    Append(pending, work);
                    drained++;
                }
                var now = clock.GetUtcNow();
                if (now >= nextFlush)
                {
                    Flush(pending);
                    nextFlush = now.AddSeconds(1);
                }
                if (now >= nextSweep)
                {
                    Sweep();
                    nextSweep = now.AddHours(1);
                }
                if (drained > 0)
                {
                    // Under load, one wake every 20 ms takes a batch, rather than one wake (and a timer) per request.
                    await Task.Delay(TimeSpan.FromMilliseconds(20), clock, stoppingToken);
                    continue;
                }
                more ??= _queue.Reader.WaitToReadAsync(stoppingToken).AsTask(); // one waiter at a time, kept across idle seconds
                await Task.WhenAny(more, Task.Delay(nextFlush - now, clock, stoppingToken));
                stoppingToken.ThrowIfCancellationRequested();
                if (more.IsCompleted) more = null;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            while (_queue.Reader.TryRead(out var work)) Append(pending, work);
            Flush(pending);
        }
    }

    /// <summary>An endpoint's lines since its last file, written as UTF-8 straight into one reused buffer.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "a Utf8JsonWriter over a buffer holds nothing to release; each line is flushed as written")]
    private sealed class Pending
    {
        public readonly ArrayBufferWriter<byte> Lines = new(64 * 1024);
        public readonly Utf8JsonWriter Writer;

        public Pending() => Writer = new Utf8JsonWriter(Lines);
    }

    private void Append(Dictionary<string, Pending> pending, CaptureWork work)
    {
        if (!pending.TryGetValue(work.Endpoint, out var lines)) pending[work.Endpoint] = lines = new Pending();
        for (var i = 0; i < work.Request.Instances.Count && i < work.Response.Predictions.Count; i++)
        {
            var row = new CapturedRow(work.Time, work.Response.RequestId, i, work.Response.Model, work.Request.Instances[i], work.Response.Predictions[i]);
            JsonSerializer.Serialize(lines.Writer, row, StratusJsonContext.Default.CapturedRow);
            lines.Writer.Flush();
            lines.Writer.Reset();
            lines.Lines.Write("\n"u8);
        }
        metrics.Captured(work.Request.Instances.Count);
    }

    private void Flush(Dictionary<string, Pending> pending)
    {
        foreach (var (endpoint, lines) in pending)
        {
            if (lines.Lines.WrittenCount == 0) continue;
            try
            {
                var folder = Folder(endpoint);
                Directory.CreateDirectory(folder);
                var name = $"{clock.GetUtcNow():yyyyMMdd'T'HHmmss'Z'}-{Interlocked.Increment(ref _sequence):D6}.jsonl";
                var temp = Path.Combine(folder, name + ".tmp");
                using (var file = File.Create(temp)) file.Write(lines.Lines.WrittenSpan);
                File.Move(temp, Path.Combine(folder, name));
            }
            catch (IOException ex)
            {
                LogCaptureFailed(logger, endpoint, ex.Message);
            }
            lines.Lines.ResetWrittenCount();
        }
    }

    private void Sweep()
    {
        if (!Directory.Exists(_root)) return;
        var cutoff = clock.GetUtcNow().AddDays(-options.Value.CaptureRetentionDays).UtcDateTime;
        foreach (var file in Directory.EnumerateFiles(_root, "*.jsonl", SearchOption.AllDirectories))
        {
            if (File.GetLastWriteTimeUtc(file) < cutoff) File.Delete(file);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write the captured requests of endpoint {Endpoint}: {Reason}")]
    private static partial void LogCaptureFailed(ILogger logger, string endpoint, string reason);
}
