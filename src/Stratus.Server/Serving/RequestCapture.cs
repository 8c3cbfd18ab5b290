using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Stratus.Server.Storage;

namespace Stratus.Server.Serving;

/// <summary>An answered request chosen for capture: its rows and the predictions it got.</summary>
public sealed record CaptureWork(string Endpoint, DateTimeOffset Time, PredictRequest Request, PredictResponse Response);

/// <summary>
/// Request and response capture, the raw material of monitoring: a sampled share of each endpoint's answered requests
/// goes through a bounded queue (a full one drops the capture and counts it, never slowing or blocking a request) to
/// files of JSON lines, one line per row with its inputs and prediction, about once a second per endpoint while
/// requests flow. Each file goes to the blob store (whole, content-addressed) with a <see cref="CaptureFileRow"/>
/// saying when its rows were answered, so that every node's captures are read together wherever a drift check or a
/// label lookup runs; DuckDB reads local copies of them as they are. Files older than
/// <see cref="ServingSettings.CaptureRetentionDays"/> are dropped (their blobs collected).
/// </summary>
public sealed partial class RequestCapture(ServingSettings options, StorageSettings storage, ServingMetrics metrics, IServiceScopeFactory scopes, IBlobStore blobs, TimeProvider clock,
    ILogger<RequestCapture> logger) : BackgroundService
{
    private const int Capacity = 10_000;
    private readonly Channel<CaptureWork> _queue = Channel.CreateBounded<CaptureWork>(new BoundedChannelOptions(Capacity) { SingleReader = true });

    /// <summary>Queues a capture without waiting: false (and counted) when the queue is full.</summary>
    public bool Offer(CaptureWork work)
    {
        if (_queue.Writer.TryWrite(work)) return true;
        metrics.CaptureDropped();
        return false;
    }

    /// <summary>
    /// Local copies of an endpoint's capture files whose rows fall in [<paramref name="from"/>, <paramref name="to"/>]
    /// (each bound optional), oldest first.
    /// </summary>
    public async Task<IReadOnlyList<string>> FilesAsync(StratusDb db, string endpoint, DateTimeOffset? from, DateTimeOffset? to, CancellationToken ct)
    {
        var query = db.CaptureFiles.AsNoTracking().Where(c => c.Endpoint == endpoint);
        if (from is { } f) query = query.Where(c => c.To >= f);
        if (to is { } t) query = query.Where(c => c.From <= t);
        var shas = await query.OrderBy(c => c.From).ThenBy(c => c.Id).Select(c => c.Sha256).ToListAsync(ct);
        var files = new List<string>(shas.Count);
        foreach (var sha in shas) files.Add(await blobs.GetLocalCopyAsync(sha, ct));
        return files;
    }

    /// <summary>The latest captured rows of an endpoint, newest first.</summary>
    public async Task<IReadOnlyList<CapturedRow>> LatestAsync(StratusDb db, string endpoint, int limit, CancellationToken ct)
    {
        var rows = new List<CapturedRow>();
        var newest = await db.CaptureFiles.AsNoTracking().Where(c => c.Endpoint == endpoint).OrderByDescending(c => c.To).ThenByDescending(c => c.Id)
            .Select(c => c.Sha256).Take(Math.Max(1, limit)).ToListAsync(ct); // each holds at least one row
        foreach (var sha in newest)
        {
            var lines = await File.ReadAllLinesAsync(await blobs.GetLocalCopyAsync(sha, ct), ct);
            for (var i = lines.Length - 1; i >= 0 && rows.Count < limit; i--)
            {
                if (JsonSerializer.Deserialize(lines[i], StratusJsonContext.Default.CapturedRow) is { } row) rows.Add(row);
            }
            if (rows.Count >= limit) break;
        }
        return rows;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await ImportLocalFilesAsync();
        }
        catch (Exception ex) when (ex is IOException or JsonException or BlobStoreUnavailableException || MetadataDatabase.IsUnavailable(ex))
        {
            LogImportFailed(logger, ex.Message);
        }
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
                    await FlushAsync(pending);
                    nextFlush = now.AddSeconds(1);
                }
                if (now >= nextSweep)
                {
                    await SweepAsync();
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
            await FlushAsync(pending);
        }
    }

    /// <summary>An endpoint's lines since its last file, written as UTF-8 straight into one reused buffer.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "a Utf8JsonWriter over a buffer holds nothing to release; each line is flushed as written")]
    private sealed class Pending
    {
        public readonly ArrayBufferWriter<byte> Lines = new(64 * 1024);
        public readonly Utf8JsonWriter Writer;
        public int Rows;
        public DateTimeOffset From, To;

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
            if (lines.Rows++ == 0) lines.From = work.Time;
            lines.To = work.Time > lines.To ? work.Time : lines.To;
        }
        metrics.Captured(work.Request.Instances.Count);
    }

    private async Task FlushAsync(Dictionary<string, Pending> pending)
    {
        foreach (var (endpoint, lines) in pending)
        {
            if (lines.Lines.WrittenCount == 0) continue;
            try
            {
                await StoreAsync(endpoint, lines.Lines.WrittenMemory, lines.Rows, lines.From, lines.To);
            }
            catch (Exception ex) when (ex is IOException or BlobStoreUnavailableException || MetadataDatabase.IsUnavailable(ex))
            {
                // Monitoring is best effort: these rows are lost, requests were never slowed.
                LogCaptureFailed(logger, endpoint, lines.Rows, ex.Message);
            }
            lines.Lines.ResetWrittenCount();
            lines.Rows = 0;
            lines.To = default;
        }
    }

    private async Task StoreAsync(string endpoint, ReadOnlyMemory<byte> bytes, int rows, DateTimeOffset from, DateTimeOffset to)
    {
        var blob = await blobs.PutAsync(new MemoryStream(bytes.ToArray(), writable: false), CancellationToken.None);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
        db.CaptureFiles.Add(new CaptureFileRow { Endpoint = endpoint, Sha256 = blob.Sha256, Size = blob.Size, Rows = rows, From = from, To = to, Node = Jobs.JobRunner.Me });
        await db.SaveChangesAsync();
    }

    private async Task SweepAsync()
    {
        var cutoff = clock.GetUtcNow().AddDays(-options.CaptureRetentionDays);
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<StratusDb>().CaptureFiles.Where(c => c.To < cutoff).ExecuteDeleteAsync();
        }
        catch (Exception ex) when (MetadataDatabase.IsUnavailable(ex))
        {
            // the next sweep, in an hour
        }
    }

    /// <summary>
    /// Moves capture files an earlier version of Stratus left in <c>DATA_DIR/capture/ENDPOINT/</c> into the store, so
    /// that the drift history they hold is not lost.
    /// </summary>
    private async Task ImportLocalFilesAsync()
    {
        var root = Path.Combine(storage.DataDir, "capture");
        if (!Directory.Exists(root)) return;
        foreach (var file in Directory.EnumerateFiles(root, "*.jsonl", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList())
        {
            var endpoint = Path.GetFileName(Path.GetDirectoryName(file)!);
            var bytes = await File.ReadAllBytesAsync(file);
            var times = File.ReadLines(file).Select(l => JsonSerializer.Deserialize(l, StratusJsonContext.Default.CapturedRow)?.Time).OfType<DateTimeOffset>().ToList();
            if (times.Count > 0) await StoreAsync(endpoint, bytes, times.Count, times.Min(), times.Max());
            File.Delete(file);
        }
        Directory.Delete(root, recursive: true);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not move the capture files of an earlier version into the store ({Reason}); they stay in the data directory and the next start tries again")]
    private static partial void LogImportFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not store {Rows} captured rows of endpoint {Endpoint}: {Reason}")]
    private static partial void LogCaptureFailed(ILogger logger, string endpoint, int rows, string reason);
}
