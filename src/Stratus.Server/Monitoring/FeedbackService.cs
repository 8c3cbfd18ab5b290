using System.Globalization;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Stratus.Ml.Data;
using Stratus.Ml.Training;
using Stratus.Server.Kernel;
using Stratus.Server.Registry;
using Stratus.Server.Serving;
using Stratus.Server.Storage;

namespace Stratus.Server.Monitoring;

/// <summary>A true label for a captured prediction, with the prediction itself (copied from the capture) and when it was made.</summary>
public sealed class FeedbackRow
{
    public long Id { get; set; }
    public required string Endpoint { get; set; }
    public required string RequestId { get; set; }
    public int Row { get; set; }
    public required string ModelName { get; set; }
    public int ModelVersion { get; set; }

    /// <summary>When the prediction was made.</summary>
    public DateTimeOffset PredictedAt { get; set; }

    /// <summary>The captured <see cref="Prediction"/>, as JSON.</summary>
    [Sealed]
    public required string PredictionJson { get; set; }

    /// <summary>The captured inputs of the row, as a JSON object: with the label, a training example (a policy's <c>with_feedback</c>).</summary>
    [Sealed]
    public string? InputsJson { get; set; }

    /// <summary>The true class (classification).</summary>
    [Sealed]
    public string? Label { get; set; }

    /// <summary>The true value (regression).</summary>
    public double? Value { get; set; }
    public DateTimeOffset ReceivedAt { get; set; }
}

internal sealed class FeedbackRowConfiguration : IEntityTypeConfiguration<FeedbackRow>
{
    public void Configure(EntityTypeBuilder<FeedbackRow> b)
    {
        b.ToTable("feedback");
        b.HasIndex(x => new { x.Endpoint, x.RequestId, x.Row }).IsUnique();
        b.HasIndex(x => new { x.Endpoint, x.ModelName, x.ModelVersion, x.PredictedAt });
    }
}

/// <summary>True labels for an endpoint's captured predictions, and the live performance they give, window by window.</summary>
public sealed class FeedbackService(StratusDb db, EndpointService endpoints, RegistryService registry, IBlobStore blobs, ModelCache models, RequestCapture capture, TimeProvider clock)
{
    /// <summary>The most labels one request may carry.</summary>
    public const int MaxItems = 10_000;

    /// <summary>
    /// Stores the labels of predictions the endpoint captured. Items naming a request that was not captured, or a
    /// label the model cannot have predicted, are refused one by one (a 400 listing them); the others are stored.
    /// </summary>
    public async Task<FeedbackResult> AddAsync(string endpoint, FeedbackRequest request, CancellationToken ct)
    {
        await endpoints.GetAsync(endpoint, ct);
        if (request.Items is not { Count: > 0 }) throw ProblemException.Invalid("items", "must hold at least one label");
        if (request.Items.Count > MaxItems) throw ProblemException.Invalid("items", $"holds {request.Items.Count:N0} labels; send at most {MaxItems:N0} at a time");
        var errors = new Dictionary<string, string>();
        for (var i = 0; i < request.Items.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(request.Items[i].RequestId)) errors[$"items[{i}].request_id"] = "is empty";
            else if (request.Items[i].Row < 0) errors[$"items[{i}].row"] = $"is {request.Items[i].Row}; rows count from 0";
        }
        var ids = request.Items.Select(i => i.RequestId).Where(id => !string.IsNullOrWhiteSpace(id)).Distinct().ToList();
        var files = ids.Count == 0 ? [] : await capture.FilesAsync(db, endpoint, null, null, ct);
        var captured = await Task.Run(() => Captured(files, ids), ct);

        var manifests = new Dictionary<(string, int), ModelManifest>();
        var now = clock.GetUtcNow();
        var accepted = new Dictionary<(string, int), FeedbackRow>();
        for (var i = 0; i < request.Items.Count; i++)
        {
            var item = request.Items[i];
            if (errors.ContainsKey($"items[{i}].request_id") || errors.ContainsKey($"items[{i}].row")) continue;
            if (!captured.TryGetValue((item.RequestId, item.Row), out var row))
            {
                errors[$"items[{i}].request_id"] = $"'{item.RequestId}' (row {item.Row}) was not captured by endpoint '{endpoint}'; capture its requests (stratus endpoints capture {endpoint} --sample-rate 1) to label them";
                continue;
            }
            if (!manifests.TryGetValue((row.Model.Name, row.Model.Version), out var manifest))
            {
                var version = await registry.GetVersionAsync(new ModelRef(row.Model.Name, row.Model.Version, null), ct);
                manifests[(row.Model.Name, row.Model.Version)] = manifest = await models.ManifestAsync(blobs, version.Sha256, ct);
            }
            var (label, value, reason) = ReadLabel(item.Label, manifest);
            if (reason is not null)
            {
                errors[$"items[{i}].label"] = reason;
                continue;
            }
            accepted[(item.RequestId, item.Row)] = new FeedbackRow
            {
                Endpoint = endpoint,
                RequestId = item.RequestId,
                Row = item.Row,
                ModelName = row.Model.Name,
                ModelVersion = row.Model.Version,
                PredictedAt = row.Time,
                PredictionJson = JsonSerializer.Serialize(row.Prediction, StratusJsonContext.Default.Prediction),
                InputsJson = JsonSerializer.Serialize(row.Inputs, StratusJsonContext.Default.IReadOnlyDictionaryStringJsonElement),
                Label = label,
                Value = value,
                ReceivedAt = now,
            };
        }
        if (accepted.Count > 0)
        {
            // A label sent again replaces the earlier one.
            var requestIds = accepted.Keys.Select(k => k.Item1).Distinct().ToList();
            var existing = await db.Feedback.Where(f => f.Endpoint == endpoint && requestIds.Contains(f.RequestId)).ToListAsync(ct);
            db.Feedback.RemoveRange(existing.Where(f => accepted.ContainsKey((f.RequestId, f.Row))));
            db.Feedback.AddRange(accepted.Values);
            await db.SaveChangesAsync(ct);
        }
        if (errors.Count > 0)
        {
            throw new ProblemException(400, "Invalid feedback",
                $"{errors.Count} of {request.Items.Count} labels were refused (see errors); the other {accepted.Count} were stored", errors.Keys.First())
            { Errors = errors };
        }
        return new FeedbackResult(accepted.Count);
    }

    /// <summary>A label as the model's task wants it: one of its classes, or a number.</summary>
    private static (string? Label, double? Value, string? Reason) ReadLabel(JsonElement label, ModelManifest manifest)
    {
        if (manifest.Task == "regression")
        {
            return label.ValueKind == JsonValueKind.Number && label.TryGetDouble(out var v) && double.IsFinite(v)
                ? (null, v, null)
                : (null, null, $"is {label.GetRawText()}; model {manifest.Target} is a regression and needs a number");
        }
        var text = label.ValueKind switch
        {
            JsonValueKind.String => label.GetString(),
            JsonValueKind.Number => label.GetRawText(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            _ => null,
        };
        // Classes read from a file may be 1 or true where the label is 1.0 or True: match them as the model does.
        var match = text is null ? null : manifest.Classes.FirstOrDefault(c => string.Equals(c, text, StringComparison.OrdinalIgnoreCase)
            || (double.TryParse(c, NumberStyles.Float, CultureInfo.InvariantCulture, out var a) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var b) && a == b));
        return match is not null
            ? (match, null, null)
            : (null, null, $"is {label.GetRawText()}; the model's classes are {string.Join(", ", manifest.Classes)}");
    }

    /// <summary>The captured rows of these requests, by request id and row.</summary>
    private Dictionary<(string, int), CapturedRow> Captured(IReadOnlyList<string> files, List<string> ids)
    {
        var found = new Dictionary<(string, int), CapturedRow>();
        if (ids.Count == 0 || files.Count == 0) return found;
        using var connection = DuckDb.Open(blobs.TempDirectory);
        using var command = connection.CreateCommand();
        command.CommandText = $"CREATE TEMP TABLE wanted AS SELECT unnest([{string.Join(", ", ids.Select(DuckDb.Literal))}]) AS id";
        command.ExecuteNonQuery();
        command.CommandText = $"SELECT json::VARCHAR FROM read_json_objects([{string.Join(", ", files.Select(DuckDb.Literal))}], format = 'newline_delimited') " +
            "WHERE json_extract_string(json, '/request_id') IN (SELECT id FROM wanted)";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var row = JsonSerializer.Deserialize(reader.GetString(0), StratusJsonContext.Default.CapturedRow)!;
            found[(row.RequestId, row.Row)] = row;
        }
        return found;
    }

    /// <summary>
    /// The endpoint's main version's metrics on labelled predictions, in <paramref name="buckets"/> windows of the last
    /// <paramref name="minutes"/> minutes (by when the predictions were made), beside its validation metrics.
    /// </summary>
    public async Task<PerformanceReport> PerformanceAsync(string endpoint, double minutes, int buckets, CancellationToken ct)
    {
        if (minutes <= 0 || minutes > 366 * 24 * 60 || double.IsNaN(minutes)) throw ProblemException.Invalid("window_minutes", $"is {minutes}; more than 0 and at most a year of minutes");
        if (buckets is < 1 or > 1000) throw ProblemException.Invalid("buckets", $"is {buckets}; 1 to 1,000 windows");
        var info = await endpoints.GetAsync(endpoint, ct);
        var version = await registry.GetVersionAsync(new ModelRef(info.Model.Name, info.Model.Version, null), ct);
        var manifest = await models.ManifestAsync(blobs, version.Sha256, ct);
        var task = MlTasks.Parse(manifest.Task) ?? MlTask.Regression;
        var to = clock.GetUtcNow();
        var from = to.AddMinutes(-minutes);
        var rows = await db.Feedback.AsNoTracking()
            .Where(f => f.Endpoint == endpoint && f.ModelName == version.Name && f.ModelVersion == version.Version && f.PredictedAt >= from && f.PredictedAt < to)
            .ToListAsync(ct);
        var width = (to - from) / buckets;
        var windows = new List<PerformanceWindow>();
        for (var b = 0; b < buckets; b++)
        {
            var (start, end) = (from + (width * b), b == buckets - 1 ? to : from + (width * (b + 1)));
            var labelled = rows.Where(r => r.PredictedAt >= start && r.PredictedAt < end).ToList();
            windows.Add(new PerformanceWindow(start, end, labelled.Count, labelled.Count == 0 ? new Dictionary<string, double>() : Metrics(task, manifest.Classes, labelled)));
        }
        return new PerformanceReport(endpoint, new ModelVersionRef(version.Name, version.Version), manifest.Task,
            manifest.Metrics.Where(m => double.IsFinite(m.Value)).ToDictionary(), windows);
    }

    private static Dictionary<string, double> Metrics(MlTask task, IReadOnlyList<string> classes, List<FeedbackRow> rows)
    {
        var classIndex = classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        var labels = new float[rows.Count];
        var scores = new List<double>(rows.Count * Math.Max(1, classes.Count));
        for (var i = 0; i < rows.Count; i++)
        {
            var prediction = JsonSerializer.Deserialize(rows[i].PredictionJson, StratusJsonContext.Default.Prediction)!;
            if (task == MlTask.Regression)
            {
                labels[i] = (float)rows[i].Value!.Value;
                scores.Add(prediction.Value ?? double.NaN);
                continue;
            }
            labels[i] = classIndex[rows[i].Label!];
            if (task == MlTask.BinaryClassification) scores.Add(prediction.Probabilities?.GetValueOrDefault(classes[1]) ?? 0);
            else scores.AddRange(classes.Select(c => prediction.Probabilities?.GetValueOrDefault(c) ?? 0));
        }
        var (metrics, _) = ModelMetrics.Compute(task, labels, [.. scores], classes.Count);
        // A window of one class has no AUC: left out rather than written as NaN.
        return metrics.Where(m => double.IsFinite(m.Value)).ToDictionary();
    }
}
