using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Stratus.Ml.Data;
using Stratus.Ml.Inference;
using Stratus.Server.Datasets;
using Stratus.Server.Kernel;
using Stratus.Server.Registry;
using Stratus.Server.Storage;
using Stratus.Server.Tracking;

namespace Stratus.Server.Jobs;

/// <summary>
/// Runs a batch inference job: a tracked run (its input the dataset version, its parameters the model), the scoring
/// on all cores in chunks written under <c>DATA_DIR/jobs/JOB</c> and each kept in the blob store as it is done (so that
/// an attempt after a crash, a restart or the death of its node resumes where the last stopped, on whichever node
/// claims it; the parts go when the job ends), and the output stored as the next version of a dataset whose lineage is the run.
/// </summary>
public sealed class BatchJobExecutor(StratusDb db, DatasetService datasets, TrackingService tracking, RegistryService registry, IBlobStore blobs, StorageSettings options)
{
    private readonly Lock _keeping = new();

    /// <summary>The experiment whose runs are batch inference jobs.</summary>
    public const string Experiment = "batch-inference";

    public async Task<BatchResultInfo> RunAsync(string jobId, Func<string, Task> log, CancellationToken ct)
    {
        var job = await db.Jobs.AsNoTracking().FirstAsync(j => j.Id == jobId, ct);
        var spec = JsonSerializer.Deserialize(job.SpecJson, StratusJsonContext.Default.BatchRequest)!;
        if (!DatasetRef.TryParse(spec.Dataset, out var datasetRef, out var error) || !ModelRef.TryParse(spec.Model, out var modelRef, out error))
            throw new InvalidDataException($"job {job.Id} names a bad dataset or model: {error}");
        var version = await datasets.ResolveAsync(datasetRef, ct);
        var model = await registry.GetVersionAsync(modelRef, ct);
        var parameters = new Dictionary<string, string> { ["model"] = spec.Model, ["dataset"] = spec.Dataset, ["output"] = spec.Output! };
        var run = await tracking.CreateRunAsync(new CreateRunRequest(Experiment, $"batch-{model.Name}-{model.Version}", parameters,
            new Dictionary<string, string> { ["job_id"] = job.Id }, job.MaxRunSeconds + 300), job.CreatedBy, ct);
        var work = Path.Combine(options.DataDir, "jobs", job.Id);
        try
        {
            await db.Jobs.Where(j => j.Id == job.Id).ExecuteUpdateAsync(s => s.SetProperty(j => j.RunId, run.Id), ct);
            await tracking.LogInputsAsync(run.Id, new LogInputsRequest([spec.Dataset]), ct);
            var package = await StoredPackages.LoadAsync(blobs, model.Sha256, $"model {model.Name}:{model.Version}", ct);
            var parquet = await blobs.GetLocalCopyAsync(version.ParquetSha256, ct);
            var resumed = await FetchPartsAsync(job.Id, work, ct);
            await log($"run {run.Id}: scoring {spec.Dataset} ({version.Rows:N0} rows) with {model.Name}:{model.Version} on {Environment.ProcessorCount} cores" +
                (resumed > 0 ? $", resuming after {resumed} chunks scored before" : ""));

            var progress = new JobLogProgress(log);
            var reported = 0L;
            var output = Path.Combine(work, "output.parquet");
            var scored = await Task.Run(() => BatchScorer.ScoreParquet(package, parquet, work, output, (done, total) =>
            {
                // A line per tenth of the rows.
                var tenth = total == 0 ? 10 : done * 10 / total;
                if (tenth > Interlocked.Read(ref reported) && Interlocked.Exchange(ref reported, tenth) < tenth) progress.Report($"scored {done:N0} of {total:N0} rows ({tenth * 10}%)");
            }, ct: ct, partScored: part => KeepPart(job.Id, part)), ct);

            DatasetVersionInfo stored;
            await using (var file = File.OpenRead(output))
            {
                stored = await datasets.UploadAsync(spec.Output!, SourceFormat.Parquet, ',', file, job.CreatedBy, ct, run.Id);
            }
            await tracking.LogParamsAsync(run.Id, new LogParamsRequest(Tags: new Dictionary<string, string> { ["output"] = $"{stored.Name}:{stored.Version}" }), ct);
            await log($"stored {stored.Name}:{stored.Version}: {scored.Rows:N0} rows with {string.Join(", ", scored.Columns)}");
            await tracking.UpdateRunAsync(run.Id, new UpdateRunRequest(RunStatus.Finished), CancellationToken.None);
            Directory.Delete(work, recursive: true);
            return new BatchResultInfo(run.Id, new ModelVersionRef(model.Name, model.Version), spec.Dataset, $"{stored.Name}:{stored.Version}", scored.Rows, scored.Columns);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await tracking.UpdateRunAsync(run.Id, new UpdateRunRequest(RunStatus.Killed, "the job was cancelled"), CancellationToken.None);
            TryDelete(work); // its parts stay in the store until the job ends: a stop for a lost claim is resumed elsewhere
            throw;
        }
        catch (Exception ex)
        {
            await tracking.UpdateRunAsync(run.Id, new UpdateRunRequest(RunStatus.Failed, ex.Message), CancellationToken.None);
            // The input's fault ends the job: its chunks go. Anything else may be tried again and resumes from them.
            if (ex is InvalidDataException or ProblemException or DataFormatException) TryDelete(work);
            throw;
        }
    }

    /// <summary>Brings the parts earlier attempts kept in the store (on any node) into the work folder; returns how many parts it holds.</summary>
    private async Task<int> FetchPartsAsync(string jobId, string work, CancellationToken ct)
    {
        Directory.CreateDirectory(work);
        foreach (var part in await db.JobParts.AsNoTracking().Where(p => p.JobId == jobId).ToListAsync(ct))
        {
            var path = Path.Combine(work, Path.GetFileName(part.Name));
            if (File.Exists(path)) continue;
            File.Copy(await blobs.GetLocalCopyAsync(part.Sha256, ct), path + ".tmp", overwrite: true);
            File.Move(path + ".tmp", path);
        }
        return Directory.GetFiles(work, "part-*.csv").Length;
    }

    /// <summary>Keeps a scored part in the store (called from the scoring threads, one at a time).</summary>
    private void KeepPart(string jobId, string part)
    {
        lock (_keeping)
        {
            BlobRef blob;
            using (var file = File.OpenRead(part))
            {
                blob = blobs.PutAsync(file, CancellationToken.None).GetAwaiter().GetResult();
            }
            var name = Path.GetFileName(part);
            if (db.JobParts.Any(p => p.JobId == jobId && p.Name == name)) return; // an earlier attempt kept it too: parts are deterministic
            db.JobParts.Add(new JobPartRow { JobId = jobId, Name = name, Sha256 = blob.Sha256 });
            db.SaveChanges();
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // left for the next start's cleanup
        }
    }
}
