using System.Globalization;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Stratus.Ml.AutoMl;
using Stratus.Ml.Inference;
using Stratus.Ml.Training;
using Stratus.Server.Datasets;
using Stratus.Server.Registry;
using Stratus.Server.Storage;
using Stratus.Server.Tracking;

namespace Stratus.Server.Jobs;

/// <summary>Runs one training job: a tracked run, the training itself, the model package as an artifact, and the registration.</summary>
public sealed class TrainJobExecutor(StratusDb db, DatasetService datasets, TrackingService tracking, RegistryService registry, IBlobStore blobs, JobClaim claim,
    TimeProvider clock)
{
    public async Task<TrainResultInfo> RunAsync(string jobId, Func<string, Task> log, CancellationToken ct)
    {
        var job = await db.Jobs.AsNoTracking().FirstAsync(j => j.Id == jobId, ct);
        return job.Kind == JobService.AutoMlKind
            ? await AutoMlAsync(job, JsonSerializer.Deserialize(job.SpecJson, StratusJsonContext.Default.AutoMlRequest)!, log, ct)
            : await TrainAsync(job, JsonSerializer.Deserialize(job.SpecJson, StratusJsonContext.Default.TrainRequest)!, log, ct);
    }

    private async Task<TrainResultInfo> TrainAsync(JobRow job, TrainRequest spec, Func<string, Task> log, CancellationToken ct)
    {
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
        return await RunJobAsync(job, spec.Dataset, spec.Experiment, $"train-{options.Trainer}", parameters, log, async (run, version, profile, parquet, temp, progress) =>
        {
            await log($"run {run.Id}: training {options.Trainer} on {spec.Dataset} ({version.Rows:N0} rows), target '{spec.Target}'");
            var result = await Task.Run(() => ModelTrainer.Train(parquet, profile, options, temp, progress, ct), ct);
            var info = await FinishAsync(job, run, result, profile, (parquet, $"{DatasetName(spec.Dataset)}:{version.Version}"), spec.Target, spec.Dataset, version.SourceSha256, parameters, spec.Register,
                $"{options.Trainer} on {spec.Dataset}", log, ct);
            return info;
        }, ct);
    }

    private async Task<TrainResultInfo> AutoMlAsync(JobRow job, AutoMlRequest spec, Func<string, Task> log, CancellationToken ct)
    {
        // Trials run side by side on the worker slots free now (or as many as asked for).
        var parallel = Math.Min(claim.Slots, spec.Parallel ?? int.MaxValue);
        // After a restart, the search goes on from the trials an earlier attempt completed.
        var prior = await PriorTrialsAsync(job, ct);
        var options = new AutoMlOptions
        {
            Target = spec.Target,
            Task = MlTasks.Parse(spec.Task),
            Budget = TimeSpan.FromSeconds(spec.BudgetSeconds),
            Metric = spec.Metric,
            Seed = spec.Seed ?? 42,
            Folds = spec.Folds ?? 0,
            Exclude = spec.Exclude ?? [],
            Parallelism = parallel,
            Resume = [.. prior.Select(p => p.Trial)],
        };
        var parameters = new Dictionary<string, string>
        {
            ["dataset"] = spec.Dataset,
            ["target"] = spec.Target,
            ["budget_seconds"] = spec.BudgetSeconds.ToString(CultureInfo.InvariantCulture),
            ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
        };
        if (spec.Task is not null) parameters["task"] = spec.Task;
        if (spec.Metric is not null) parameters["metric"] = spec.Metric;
        return await RunJobAsync(job, spec.Dataset, spec.Experiment, "automl", parameters, log, async (run, version, profile, parquet, temp, progress) =>
        {
            await log($"run {run.Id}: AutoML on {spec.Dataset} ({version.Rows:N0} rows), target '{spec.Target}', budget {spec.BudgetSeconds} s, " +
                $"{parallel} trial{(parallel == 1 ? "" : "s")} at a time");
            var runIds = prior.ToDictionary(p => p.Trial.Number, p => p.RunId);
            // Each trial becomes a child run as it ends (from the search's thread, which waits for it).
            void OnTrial(Trial t) => runIds[t.Number] = RecordTrialAsync(job, run, t, ct).GetAwaiter().GetResult();
            var search = await Task.Run(() => AutoMlSearch.Run(parquet, profile, options, temp, OnTrial, progress, ct), ct);
            var trials = search.Trials.Select(t => new TrialInfo(t.Number, t.Trainer, t.Status, t.Score, Math.Round(t.Duration.TotalSeconds, 3), t.Parameters,
                runIds.GetValueOrDefault(t.Number), t.Error)).ToList();
            var leaderboard = trials.Where(t => t.Score is not null)
                .OrderByDescending(t => MetricCatalog.HigherIsBetter(search.Metric) ? t.Score : -t.Score).ThenBy(t => t.Number).ToList();
            await tracking.LogParamsAsync(run.Id, new LogParamsRequest(Tags: new Dictionary<string, string>
            {
                ["metric"] = search.Metric,
                ["trials"] = trials.Count.ToString(CultureInfo.InvariantCulture),
                ["best_trial"] = search.BestTrial.Number.ToString(CultureInfo.InvariantCulture),
                ["best_trainer"] = search.BestTrial.Trainer,
            }), ct);
            await tracking.PutArtifactAsync(run.Id, RunArtifactLayout.Leaderboard,
                new MemoryStream(JsonSerializer.SerializeToUtf8Bytes<IReadOnlyList<TrialInfo>>(leaderboard, StratusJsonContext.Default.IReadOnlyListTrialInfo)), ct);
            await log($"{trials.Count} trials; best: trial {search.BestTrial.Number}, {search.BestTrial.Trainer}, {search.Metric} {search.BestTrial.Score:F4}");
            var packaged = search.BestTrial.Parameters;
            var description = $"AutoML best of {trials.Count} trials ({search.BestTrial.Trainer}) on {spec.Dataset}";
            if (search.Partial)
            {
                // The best model was stopped by the budget while it still improved: it says so wherever it shows.
                description = $"AutoML partial model (trial {search.BestTrial.Number}, stopped when the budget of {spec.BudgetSeconds} s ran out) on {spec.Dataset}";
                await tracking.LogParamsAsync(run.Id, new LogParamsRequest(Tags: new Dictionary<string, string> { ["partial"] = "true" }), ct);
                await log($"the best model, trial {search.BestTrial.Number}, was stopped by the budget while it still improved; a larger budget would finish it");
            }
            if (search.Ensemble is { } members)
            {
                var recipe = string.Join(", ", members.Select(m => $"trial {m.Trial.Number} {m.Trial.Trainer} x{m.Weight.ToString("F3", CultureInfo.InvariantCulture)}"));
                packaged = new Dictionary<string, string> { ["trainer"] = "ensemble", ["members"] = recipe };
                description = $"AutoML ensemble of {members.Count} trials ({recipe}) on {spec.Dataset}";
                await tracking.LogParamsAsync(run.Id, new LogParamsRequest(Tags: new Dictionary<string, string> { ["ensemble"] = recipe }), ct);
                await log($"ensemble: {recipe}");
            }
            var info = await FinishAsync(job, run, search.Best, profile, (parquet, $"{DatasetName(spec.Dataset)}:{version.Version}"), spec.Target, spec.Dataset, version.SourceSha256, packaged, spec.Register,
                description, log, ct);
            return info with { Trials = trials.Count, Metric = search.Metric, Leaderboard = [.. leaderboard.Take(10)] };
        }, ct);
    }

    /// <summary>
    /// The trials an earlier attempt of this job completed (child runs tagged with the job), as the search resumes
    /// from them; a trial whose record was cut short by the crash is left out (it runs again).
    /// </summary>
    private async Task<List<(Trial Trial, string RunId)>> PriorTrialsAsync(JobRow job, CancellationToken ct)
    {
        var ids = await db.RunTags.AsNoTracking().Where(t => t.Key == "job_id" && t.Value == job.Id).Select(t => t.RunId)
            .Intersect(db.RunTags.AsNoTracking().Where(t => t.Key == "trial").Select(t => t.RunId))
            .ToListAsync(ct);
        var prior = new List<(Trial, string)>();
        foreach (var id in ids)
        {
            var r = await tracking.GetRunAsync(id, ct);
            if (r.Status == RunStatus.Running || !r.LatestMetrics.TryGetValue("search_seconds", out var ended)) continue;
            var metrics = r.LatestMetrics.Where(m => m.Key is not ("duration_seconds" or "search_seconds")).ToDictionary();
            var duration = r.LatestMetrics.GetValueOrDefault("duration_seconds");
            var trial = new Trial(int.Parse(r.Tags["trial"], CultureInfo.InvariantCulture), r.Params.GetValueOrDefault("trainer", "?"), r.Params, r.Tags["trial_status"],
                null, metrics, TimeSpan.FromSeconds(duration), TimeSpan.FromSeconds(ended), r.Status == RunStatus.Failed ? r.FailureReason : null);
            prior.Add((trial, r.Id));
        }
        return prior;
    }

    /// <summary>A finished trial as a child run of the search: its parameters, metrics and outcome.</summary>
    private async Task<string> RecordTrialAsync(JobRow job, RunInfo parent, Trial t, CancellationToken ct)
    {
        var child = await tracking.CreateRunAsync(
            new CreateRunRequest(parent.ExperimentName, $"trial-{t.Number}", t.Parameters, new Dictionary<string, string>
            {
                ["parent_run_id"] = parent.Id,
                ["job_id"] = job.Id,
                ["trial"] = t.Number.ToString(CultureInfo.InvariantCulture),
                ["trial_status"] = t.Status,
            }),
            job.CreatedBy, ct);
        var points = t.Metrics.Where(m => double.IsFinite(m.Value)).Select(m => new MetricPoint(m.Key, m.Value))
            .Append(new MetricPoint("duration_seconds", t.Duration.TotalSeconds)).Append(new MetricPoint("search_seconds", t.Ended.TotalSeconds)).ToList();
        await tracking.LogMetricsAsync(child.Id, new LogMetricsRequest(points), ct);
        await tracking.UpdateRunAsync(child.Id, t.Status is "failed" or "timeout"
            ? new UpdateRunRequest(RunStatus.Failed, t.Error ?? "the budget ran out during this trial")
            : new UpdateRunRequest(RunStatus.Finished), ct);
        return child.Id;
    }

    /// <summary>
    /// The frame of every training job: the tracked run (ended with the job, whatever happens), its input, the dataset
    /// as a local Parquet file, and the work itself.
    /// </summary>
    private async Task<TrainResultInfo> RunJobAsync(JobRow job, string dataset, string? experiment, string runName, Dictionary<string, string> parameters,
        Func<string, Task> log,
        Func<RunInfo, DatasetVersionRow, IReadOnlyList<ColumnProfile>, string, string, JobLogProgress, Task<TrainResultInfo>> work, CancellationToken ct)
    {
        if (!DatasetRef.TryParse(dataset, out var reference, out var error)) throw new InvalidDataException($"job {job.Id} names a bad dataset: {error}");
        var version = await datasets.ResolveAsync(reference, ct);
        var profile = DatasetService.ProfileOf(version);
        // The run outlives no server: recovery fails it at restart, so heartbeats only need to cover the time limit.
        var run = await tracking.CreateRunAsync(
            new CreateRunRequest(experiment ?? Projects.SplitQualified(reference.Name).Name, runName, parameters, new Dictionary<string, string> { ["job_id"] = job.Id }, job.MaxRunSeconds + 300),
            job.CreatedBy, ct);
        try
        {
            await db.Jobs.Where(j => j.Id == job.Id).ExecuteUpdateAsync(s => s.SetProperty(j => j.RunId, run.Id), ct);
            await tracking.LogInputsAsync(run.Id, new LogInputsRequest([dataset]), ct);
            var parquet = await blobs.GetLocalCopyAsync(version.ParquetSha256, ct);
            var temp = blobs.TempDirectory;
            var info = await work(run, version, profile, parquet, temp, new JobLogProgress(log));
            await tracking.UpdateRunAsync(run.Id, new UpdateRunRequest(RunStatus.Finished), CancellationToken.None);
            return info;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await tracking.UpdateRunAsync(run.Id, new UpdateRunRequest(RunStatus.Killed, "the job was cancelled"), CancellationToken.None);
            throw;
        }
        catch (Exception ex)
        {
            // Input errors are the user's to read; anything else may carry server paths and stays in the server log.
            var reason = ex is Stratus.Ml.Data.DataFormatException or Kernel.ProblemException ? ex.Message : $"internal error ({ex.GetType().Name})";
            await tracking.UpdateRunAsync(run.Id, new UpdateRunRequest(RunStatus.Failed, reason), CancellationToken.None);
            throw;
        }
    }

    /// <summary>What every training ends with: metrics and curves, importance and confusion matrix, the package, and the registration.</summary>
    private async Task<TrainResultInfo> FinishAsync(JobRow job, RunInfo run, TrainResult result, IReadOnlyList<ColumnProfile> profile, (string Parquet, string Version) trainedOn, string target, string dataset,
        string? datasetSha256, IReadOnlyDictionary<string, string> parameters, string? register, string description, Func<string, Task> log, CancellationToken ct)
    {
        await log($"{result.Task.Name()} model ({result.Trainer}) trained in {result.Duration.TotalSeconds:F1} s; {result.Validation}: " +
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
            await tracking.PutArtifactAsync(run.Id, RunArtifactLayout.Confusion,
                new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(confusion, StratusJsonContext.Default.ConfusionMatrixInfo)), ct);
        }
        await tracking.PutArtifactAsync(run.Id, RunArtifactLayout.Importance,
            new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(result.FeatureImportance.ToDictionary(), StratusJsonContext.Default.DictionaryStringDouble)), ct);
        // None when the search had no time left to measure it (its log said so).
        if (result.FeatureImportance.Count > 0)
            await log("permutation importance: " + string.Join(", ", result.FeatureImportance.Take(5).Select(f => $"{f.Key} {f.Value:F4}")));

        var package = blobs.NewTempPath(".zip");
        try
        {
            await using (var file = File.Create(package))
            {
                ModelPackage.Save(result, profile, target, file, parameters, dataset, datasetSha256);
            }
            await using var read = File.OpenRead(package);
            await tracking.PutArtifactAsync(run.Id, RunArtifactLayout.Package, read, ct);
            read.Position = 0;
            await PutBaselineAsync(run, result, ModelPackage.ReadManifest(read), trainedOn.Parquet, trainedOn.Version, ct);
        }
        finally
        {
            File.Delete(package);
        }

        ModelVersionRef? registered = null;
        if (register is { } name)
        {
            // Only a complete, stored package is ever registered, and only under the claim that holds the job.
            await claim.EnsureCurrentAsync(db, ct);
            var model = await registry.CreateVersionAsync(name, new CreateModelVersionRequest(run.Id, RunArtifactLayout.Package, description), job.CreatedBy, ct);
            registered = new ModelVersionRef(model.Name, model.Version);
            await log($"registered {model.Name}:{model.Version}");
        }
        return new TrainResultInfo(run.Id, result.Task.Name(), result.Trainer, result.Validation, result.Metrics, registered, result.FeatureImportance,
            confusion, result.Model.Booster?.Iterations);
    }

    private static string DatasetName(string dataset) => DatasetRef.TryParse(dataset, out var r, out _) ? r.Name : dataset;

    private async Task PutBaselineAsync(RunInfo run, TrainResult result, ModelManifest manifest, string parquet, string dataset, CancellationToken ct)
    {
        var baseline = await Task.Run(() => Monitoring.TrainingBaseline.Of(result, manifest, parquet, dataset, blobs.TempDirectory, clock.GetUtcNow()), ct);
        await tracking.PutArtifactAsync(run.Id, RunArtifactLayout.Baseline, new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(baseline, StratusJsonContext.Default.ModelBaseline)), ct);
    }
}

/// <summary>Writes training progress to the job log in order, from the training thread (which may block briefly on it).</summary>
internal sealed class JobLogProgress(Func<string, Task> log) : IProgress<string>
{
    public void Report(string value) => log(value).GetAwaiter().GetResult();
}
