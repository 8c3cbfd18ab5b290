using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Stratus.Ml.Data;
using Stratus.Ml.Drift;
using Stratus.Ml.Inference;
using Stratus.Server.Datasets;
using Stratus.Server.Kernel;
using Stratus.Server.Registry;
using Stratus.Server.Serving;
using Stratus.Server.Storage;
using Stratus.Server.Tracking;

namespace Stratus.Server.Monitoring;

/// <summary>What a drift report keeps beside its verdict, with each column's histogram against the baseline for reports to plot.</summary>
public sealed record DriftDetails(IReadOnlyList<FeatureDrift> Features, FeatureDrift? Prediction, IReadOnlyList<string> UnseenColumns, IReadOnlyList<DistributionPlot>? Plots = null);

/// <summary>Model baselines, and drift checks of an endpoint's captured requests against its model's baseline, kept as time series.</summary>
public sealed class MonitoringService(StratusDb db, EndpointService endpoints, RegistryService registry, TrackingService tracking, DatasetService datasets, IBlobStore blobs,
    ModelCache models, RequestCapture capture, TimeProvider clock)
{
    /// <summary>A model version's baseline: one set from a dataset, else the one kept by the run that trained it.</summary>
    public async Task<ModelBaseline> BaselineAsync(ModelVersionInfo version, CancellationToken ct)
    {
        if (await db.Baselines.AsNoTracking().FirstOrDefaultAsync(b => b.ModelName == version.Name && b.ModelVersion == version.Version, ct) is { } set)
            return JsonSerializer.Deserialize(set.BaselineJson, StratusJsonContext.Default.ModelBaseline)!;
        ArtifactInfo artifact;
        try
        {
            artifact = await tracking.GetArtifactAsync(version.RunId, RunArtifactLayout.Baseline, ct);
        }
        catch (ProblemException ex) when (ex.Status == 404)
        {
            throw ProblemException.Conflict($"model {version.Name}:{version.Version} has no baseline: set one from a dataset (stratus monitor baseline {version.Name}:{version.Version} --dataset NAME)");
        }
        await using var stream = await blobs.ReadVerifiedAsync(artifact.Sha256, ct);
        return (await JsonSerializer.DeserializeAsync(stream, StratusJsonContext.Default.ModelBaseline, ct))!;
    }

    /// <summary>Sets a model version's baseline from a dataset version: its inputs there and its predictions on those rows.</summary>
    public async Task<ModelBaseline> SetBaselineAsync(ModelVersionInfo version, SetBaselineRequest request, CancellationToken ct)
    {
        if (!DatasetRef.TryParse(request.Dataset, out var reference, out var error)) throw ProblemException.Invalid("dataset", error!);
        var dataset = await datasets.ResolveAsync(reference, ct);
        var columns = DatasetService.ColumnsOf(dataset).ToDictionary(c => c.Name, c => c.Type, StringComparer.Ordinal);
        var model = await StoredPackages.LoadAsync(blobs, version.Sha256, $"model {version.Name}:{version.Version}", ct);
        var manifest = model.Manifest;
        foreach (var input in manifest.Inputs)
        {
            if (!columns.TryGetValue(input.Name, out var type))
                throw ProblemException.Invalid("dataset", $"{reference.Name}:{dataset.Version} has no column '{input.Name}', an input of {version.Name}:{version.Version}");
            if (Baselines.KindOf(input.Type) == DriftSketches.Numeric && Baselines.KindOf(type) != DriftSketches.Numeric)
                throw ProblemException.Invalid("dataset", $"column '{input.Name}' of {reference.Name}:{dataset.Version} holds {type}; {version.Name}:{version.Version} reads it as {input.Type}");
        }
        var parquet = await blobs.GetLocalCopyAsync(dataset.ParquetSha256, ct);
        var temp = blobs.TempDirectory;
        var task = Stratus.Ml.Training.MlTasks.Parse(manifest.Task) ?? Stratus.Ml.Training.MlTask.Regression;
        var (features, scores, metrics) = await Task.Run(() =>
        {
            try
            {
                var metrics = columns.ContainsKey(manifest.Target) ? BatchScorer.Evaluate(model, parquet, temp, ct).Metrics : null;
                return (Baselines.OfDataset(parquet, manifest.Inputs, temp), BatchScorer.Scores(model, parquet, temp, ct: ct), metrics);
            }
            catch (PredictionInputException ex)
            {
                throw ProblemException.Invalid("dataset", $"{version.Name}:{version.Version} cannot score {reference.Name}:{dataset.Version}: {ex.Message}");
            }
        }, ct);
        var baseline = new ModelBaseline($"inputs and predictions: {reference.Name}:{dataset.Version}", dataset.Rows, features, Baselines.OfScores(task, manifest.Classes, scores),
            (metrics ?? manifest.Metrics.ToDictionary()).Where(m => double.IsFinite(m.Value)).ToDictionary(), clock.GetUtcNow());
        var json = JsonSerializer.Serialize(baseline, StratusJsonContext.Default.ModelBaseline);
        var row = await db.Baselines.FirstOrDefaultAsync(b => b.ModelName == version.Name && b.ModelVersion == version.Version, ct);
        if (row is null) db.Baselines.Add(new BaselineRow { ModelName = version.Name, ModelVersion = version.Version, BaselineJson = json, CreatedAt = baseline.CreatedAt });
        else (row.BaselineJson, row.CreatedAt) = (json, baseline.CreatedAt);
        await db.SaveChangesAsync(ct);
        return baseline;
    }

    /// <summary>
    /// Compares the requests an endpoint captured in a window with the baseline of its main model version, column by
    /// column and for that version's predictions, and stores the report.
    /// </summary>
    public async Task<DriftReport> CheckDriftAsync(string endpoint, DriftCheckRequest request, CancellationToken ct)
    {
        var info = await endpoints.GetAsync(endpoint, ct);
        var version = await registry.GetVersionAsync(new ModelRef(info.Model.Name, info.Model.Version, null), ct);
        var baseline = await BaselineAsync(version, ct);
        var manifest = await models.ManifestAsync(blobs, version.Sha256, ct);

        if (request.WindowMinutes is { } minutes && (minutes <= 0 || minutes > 366 * 24 * 60 || double.IsNaN(minutes)))
            throw ProblemException.Invalid("window_minutes", $"is {minutes}; a window is more than 0 and at most a year of minutes");
        var to = request.To ?? clock.GetUtcNow();
        var from = request.From ?? to.AddMinutes(-(request.WindowMinutes ?? 60));
        if (from >= to) throw ProblemException.Invalid("from", $"{from:O} is not before to ({to:O})");
        var minRows = request.MinRows ?? DriftDetector.DefaultMinRows;
        if (minRows is < 1 or > 1_000_000) throw ProblemException.Invalid("min_rows", $"is {minRows}; 1 to 1,000,000 rows");
        var kinds = baseline.Features.ToDictionary(f => f.Key, f => f.Value.Kind);
        if (baseline.Prediction is { } p) kinds[Baselines.Prediction] = p.Kind;
        foreach (var (column, rule) in request.Rules ?? new Dictionary<string, DriftRule>())
        {
            if (!kinds.TryGetValue(column, out var kind)) throw ProblemException.Invalid($"rules.{column}", $"the model has no input '{column}' (nor is it '{Baselines.Prediction}')");
            if (DriftDetector.Check(rule, kind) is { } reason) throw ProblemException.Invalid($"rules.{column}", reason);
        }

        var files = await capture.FilesAsync(db, endpoint, from, to, ct);
        var window = await Task.Run(() => Sketch(files, from, to, baseline, manifest, version), ct);
        var (rows, current, predictions, unseen) = (window.Rows, window.Features, window.Prediction, window.UnseenColumns);
        DriftRule? RuleOf(string column) => request.Rules?.GetValueOrDefault(column);
        var features = baseline.Features.Select(f => DriftDetector.Compare(f.Key, f.Value, current[f.Key], RuleOf(f.Key), minRows)).ToList();
        var prediction = baseline.Prediction is { } reference && predictions is not null
            ? DriftDetector.Compare(Baselines.Prediction, reference, predictions, RuleOf(Baselines.Prediction), minRows)
            : null;
        // Plotted now, while the window's sketches are at hand: a report later reads them instead of parsing the window again.
        List<DistributionPlot> plots = [.. baseline.Features.Select(f => DriftPlots.Histogram(f.Key, f.Value, current[f.Key]))];
        if (baseline.Prediction is { } predicted && predictions is not null) plots.Add(DriftPlots.Histogram(Baselines.Prediction, predicted, predictions));
        var judged = features.Count(f => f.Status != "insufficient_data");
        var drifted = features.Count(f => f.Status == "drift");
        var status = drifted > 0 || prediction?.Status == "drift" ? "drift" : judged == 0 ? "insufficient_data" : "ok";
        var row = new DriftReportRow
        {
            Endpoint = endpoint,
            ModelName = version.Name,
            ModelVersion = version.Version,
            From = from,
            To = to,
            Rows = rows,
            Status = status,
            Drifted = drifted,
            DriftShare = judged == 0 ? 0 : (double)drifted / judged,
            DetailsJson = JsonSerializer.Serialize(new DriftDetails(features, prediction, unseen, plots), MonitoringJson.Default.DriftDetails),
            CreatedAt = clock.GetUtcNow(),
        };
        db.Add(row);
        await db.SaveChangesAsync(ct);
        return ToReport(row);
    }

    /// <summary>The histograms a drift report keeps of its window against the baseline (none for reports older than them).</summary>
    public async Task<IReadOnlyList<DistributionPlot>> PlotsAsync(long reportId, CancellationToken ct)
    {
        var json = await db.DriftReports.AsNoTracking().Where(r => r.Id == reportId).Select(r => r.DetailsJson).FirstAsync(ct);
        return JsonSerializer.Deserialize(json, MonitoringJson.Default.DriftDetails)!.Plots ?? [];
    }

    /// <summary>An endpoint's drift reports, newest first (those made since <paramref name="since"/>, when given).</summary>
    public async Task<IReadOnlyList<DriftReport>> HistoryAsync(string endpoint, int limit, CancellationToken ct, DateTimeOffset? since = null)
    {
        await endpoints.GetAsync(endpoint, ct);
        var query = db.DriftReports.AsNoTracking().Where(r => r.Endpoint == endpoint);
        if (since is { } start) query = query.Where(r => r.CreatedAt >= start);
        var rows = await query.OrderByDescending(r => r.Id).Take(limit).ToListAsync(ct);
        return rows.ConvertAll(ToReport);
    }

    private static DriftReport ToReport(DriftReportRow r)
    {
        var details = JsonSerializer.Deserialize(r.DetailsJson, MonitoringJson.Default.DriftDetails)!;
        return new DriftReport(r.Id, r.Endpoint, new ModelVersionRef(r.ModelName, r.ModelVersion), r.From, r.To, r.Rows, r.Status, r.Drifted, r.DriftShare,
            details.Features, details.Prediction, details.UnseenColumns, r.CreatedAt);
    }

    /// <summary>Capture files that may hold rows of the window: each is named by when it was written, seconds after its rows.</summary>
    private WindowSketch Sketch(IReadOnlyList<string> files, DateTimeOffset from, DateTimeOffset to, ModelBaseline baseline, ModelManifest manifest, ModelVersionInfo version)
    {
        // Drift checks run beside the endpoints they watch: half the cores at most, so requests keep the rest.
        using var connection = DuckDb.Open(blobs.TempDirectory, threads: Math.Max(1, Environment.ProcessorCount / 2));
        var path = manifest.Task switch
        {
            "binary" => new[] { "prediction", "probabilities", manifest.Classes[^1] },
            "multiclass" => ["prediction", "label"],
            _ => ["prediction", "value"],
        };
        var prediction = baseline.Prediction is { } reference ? new PredictionColumn(reference.Kind, path, version.Name, version.Version) : null;
        return CaptureWindow.Sketch(connection, files, from, to, baseline.Features.ToDictionary(f => f.Key, f => f.Value.Kind), prediction);
    }
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(DriftDetails))]
internal sealed partial class MonitoringJson : System.Text.Json.Serialization.JsonSerializerContext;
