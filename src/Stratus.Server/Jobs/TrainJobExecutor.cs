using System.Globalization;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Stratus.Ml.Inference;
using Stratus.Ml.Training;
using Stratus.Server.Datasets;
using Stratus.Server.Registry;
using Stratus.Server.Storage;
using Stratus.Server.Tracking;

namespace Stratus.Server.Jobs;

/// <summary>Runs one training job: a tracked run, the training itself, the model package as an artifact, and the registration.</summary>
public sealed class TrainJobExecutor(StratusDb db, DatasetService datasets, TrackingService tracking, RegistryService registry, IBlobStore blobs)
{
    /// <summary>The artifact path of the model package in the run.</summary>
    public const string PackagePath = "model/package.zip";

    /// <summary>The artifact path of the permutation feature importance in the run.</summary>
    public const string ImportancePath = "feature_importance.json";

    /// <summary>The artifact path of a classifier's validation confusion matrix in the run.</summary>
    public const string ConfusionPath = "confusion_matrix.json";

    public async Task<TrainResultInfo> RunAsync(string jobId, Func<string, Task> log, CancellationToken ct)
    {
        var job = await db.Jobs.AsNoTracking().FirstAsync(j => j.Id == jobId, ct);
        var spec = JsonSerializer.Deserialize(job.SpecJson, StratusJsonContext.Default.TrainRequest)!;
        if (!DatasetRef.TryParse(spec.Dataset, out var reference, out var error)) throw new InvalidDataException($"job {jobId} names a bad dataset: {error}");
        var version = await datasets.ResolveAsync(reference, ct);
        var profile = DatasetService.ProfileOf(version);
        var options = JobService.ToOptions(spec, MlTasks.Parse(spec.Task));

        var parameters = new Dictionary<string, string>
        {
            ["dataset"] = spec.Dataset,
            ["target"] = spec.Target,
            ["trainer"] = options.Trainer,
            ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
            ["iterations"] = options.Iterations.ToString(CultureInfo.InvariantCulture),
        };
        if (spec.Task is not null) parameters["task"] = spec.Task;
        if (options.EarlyStoppingRounds > 0) parameters["early_stopping_rounds"] = options.EarlyStoppingRounds.ToString(CultureInfo.InvariantCulture);
        // The run outlives no server: recovery fails it at restart, so heartbeats only need to cover the time limit.
        var run = await tracking.CreateRunAsync(
            new CreateRunRequest(spec.Experiment ?? reference.Name, $"train-{options.Trainer}", parameters,
                new Dictionary<string, string> { ["job_id"] = jobId }, job.MaxRunSeconds + 300),
            job.CreatedBy, ct);
        try
        {
            // From here on the run ends with the job, whatever happens.
            await db.Jobs.Where(j => j.Id == jobId).ExecuteUpdateAsync(s => s.SetProperty(j => j.RunId, run.Id), ct);
            await tracking.LogInputsAsync(run.Id, new LogInputsRequest([spec.Dataset]), ct);
            await log($"run {run.Id}: training {options.Trainer} on {spec.Dataset} ({version.Rows:N0} rows), target '{spec.Target}'");
            var parquet = await blobs.GetVerifiedLocalPathAsync(version.ParquetSha256, ct);
            var temp = Path.GetDirectoryName(blobs.NewTempPath())!;
            var progress = new JobLogProgress(log);
            var result = await Task.Run(() => ModelTrainer.Train(parquet, profile, options, temp, progress, ct), ct);
            await log($"{result.Task.Name()} model trained in {result.Duration.TotalSeconds:F1} s; {result.Validation}: " +
                string.Join(", ", result.Metrics.Select(m => $"{m.Key} {m.Value:F4}")));
            await tracking.LogParamsAsync(run.Id, new LogParamsRequest(Tags: new Dictionary<string, string> { ["task"] = result.Task.Name(), ["validation"] = result.Validation }), ct);
            await tracking.LogMetricsAsync(run.Id, new LogMetricsRequest([.. result.Metrics.Select(m => new MetricPoint(m.Key, m.Value))]), ct);
            if (result.Curve is { } curve)
            {
                // Learning curves: one point per boosting iteration and series (valid.auc, train.log_loss, ...).
                await tracking.LogMetricsAsync(run.Id, new LogMetricsRequest([.. curve.Series.SelectMany(s => s.Value.Select((v, i) => new MetricPoint(s.Key, v, i + 1)))]), ct);
            }
            ConfusionMatrixInfo? confusion = result.ConfusionMatrix is { } counts ? new ConfusionMatrixInfo(result.Classes, counts) : null;
            if (confusion is not null)
            {
                await tracking.PutArtifactAsync(run.Id, ConfusionPath,
                    new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(confusion, StratusJsonContext.Default.ConfusionMatrixInfo)), ct);
            }
            await tracking.PutArtifactAsync(run.Id, ImportancePath,
                new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(result.FeatureImportance.ToDictionary(), StratusJsonContext.Default.DictionaryStringDouble)), ct);
            await log("permutation importance: " + string.Join(", ", result.FeatureImportance.Take(5).Select(f => $"{f.Key} {f.Value:F4}")));

            var package = blobs.NewTempPath(".zip");
            try
            {
                await using (var file = File.Create(package))
                {
                    ModelPackage.Save(result, profile, spec.Target, file, parameters, spec.Dataset, version.SourceSha256);
                }
                await using var read = File.OpenRead(package);
                await tracking.PutArtifactAsync(run.Id, PackagePath, read, ct);
            }
            finally
            {
                File.Delete(package);
            }

            ModelVersionRef? registered = null;
            if (spec.Register is { } name)
            {
                // Only a complete, stored package is ever registered.
                var model = await registry.CreateVersionAsync(name, new CreateModelVersionRequest(run.Id, PackagePath, $"{options.Trainer} on {spec.Dataset}"), job.CreatedBy, ct);
                registered = new ModelVersionRef(model.Name, model.Version);
                await log($"registered {model.Name}:{model.Version}");
            }
            await tracking.UpdateRunAsync(run.Id, new UpdateRunRequest(RunStatus.Finished), CancellationToken.None);
            return new TrainResultInfo(run.Id, result.Task.Name(), options.Trainer, result.Validation, result.Metrics, registered, result.FeatureImportance,
                confusion, result.Model.Booster?.Iterations);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await tracking.UpdateRunAsync(run.Id, new UpdateRunRequest(RunStatus.Killed, "the job was cancelled"), CancellationToken.None);
            throw;
        }
        catch (Exception ex)
        {
            // Input errors are the user's to read; anything else may carry server paths and stays in the server log.
            var reason = ex is Stratus.Ml.Data.DataFormatException or Hosting.ProblemException ? ex.Message : $"internal error ({ex.GetType().Name})";
            await tracking.UpdateRunAsync(run.Id, new UpdateRunRequest(RunStatus.Failed, reason), CancellationToken.None);
            throw;
        }
    }
}

/// <summary>Writes training progress to the job log in order, from the training thread (which may block briefly on it).</summary>
internal sealed class JobLogProgress(Func<string, Task> log) : IProgress<string>
{
    public void Report(string value) => log(value).GetAwaiter().GetResult();
}
