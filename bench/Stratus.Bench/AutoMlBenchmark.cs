using System.Diagnostics;
using System.Text.Json;
using Stratus.Ml.AutoMl;
using Stratus.Ml.Data;
using Stratus.Ml.Inference;
using Stratus.Ml.Training.Gbm;

/// <summary>
/// Stratus's side of bench/automl: for every dataset and outer fold that bench/automl/prepare.py wrote, an AutoML search
/// on the training rows within the budget, then the test rows scored by the packaged model (the batch-scoring path).
/// bench/automl/report.py scores these predictions and the references' the same way.
/// </summary>
internal static class AutoMlBenchmark
{
    /// <param name="only">Dataset names to run (all when empty).</param>
    /// <param name="verbose">Prints the search's progress (every trial) with the time.</param>
    public static void Run(string work, int budgetSeconds, IReadOnlyCollection<string> only, bool verbose)
    {
        // As a server runs a search: a worker slot per core, trials side by side on the slots, and LightGBM's threads
        // the cores divided among the slots (JobSettings.Threads), so that side-by-side trials never oversubscribe the
        // cores. Left at every core per trial, two trials' spinning OpenMP teams on two cores made each iteration of a
        // booster on 400 rows take 5 ms instead of a fraction of one.
        var parallelism = Environment.ProcessorCount;
        LightGbmThreads.Configure(Math.Max(1, Environment.ProcessorCount / parallelism));
        foreach (var dataset in Directory.GetDirectories(work).Order(StringComparer.Ordinal))
        {
            if (only.Count > 0 && !only.Contains(Path.GetFileName(dataset))) continue;
            var metaPath = Path.Combine(dataset, "meta.json");
            if (!File.Exists(metaPath)) continue;
            using var meta = JsonDocument.Parse(File.ReadAllText(metaPath));
            var target = meta.RootElement.GetProperty("target").GetString()!;
            var metric = meta.RootElement.GetProperty("metric").GetString()!;
            foreach (var fold in Directory.GetDirectories(dataset, "fold*").Order(StringComparer.Ordinal))
            {
                var temp = Directory.CreateTempSubdirectory("stratus-automl-bench-").FullName;
                try
                {
                    var clock = Stopwatch.StartNew();
                    var parquet = Path.Combine(temp, "train.parquet");
                    var (_, profile) = DatasetIngestor.Ingest(Path.Combine(fold, "train.csv"), SourceFormat.Csv, parquet, temp);
                    var search = AutoMlSearch.Run(parquet, profile, new AutoMlOptions
                    {
                        Target = target,
                        Metric = metric,
                        Budget = TimeSpan.FromSeconds(budgetSeconds),
                        Parallelism = parallelism,
                    }, temp, progress: verbose ? new Progress<string>(l => Console.WriteLine($"{clock.Elapsed.TotalSeconds:F1} {l}")) : null);
                    var seconds = search.Best.Duration.TotalSeconds; // the search's own time (the budget's), without reading the CSV
                    using (var stream = new MemoryStream())
                    {
                        ModelPackage.Save(search.Best, profile, target, stream, new Dictionary<string, string>());
                        stream.Position = 0;
                        BatchScorer.Score(ModelPackage.Load(stream), Path.Combine(fold, "test.csv"), Path.Combine(fold, "stratus_pred.csv"));
                    }
                    File.WriteAllText(Path.Combine(fold, "stratus.json"), JsonSerializer.Serialize(new Dictionary<string, object>
                    {
                        ["seconds"] = seconds,
                        ["trials"] = search.Trials.Count,
                        ["pruned"] = search.Trials.Count(t => t.Status == "pruned"),
                        ["model"] = search.Best.Trainer,
                    }));
                    Console.WriteLine($"{Path.GetFileName(dataset)}/{Path.GetFileName(fold)}: {search.Trials.Count} trials ({string.Join(", ", search.Trials.GroupBy(t => t.Status).Select(g => $"{g.Count()} {g.Key}"))}) in {seconds:F1} s ({search.Best.Validation}), {search.Best.Trainer} {metric} {search.Best.Metrics.GetValueOrDefault(metric):F4} (validation)");
                }
                catch (DataFormatException ex)
                {
                    Console.WriteLine($"{Path.GetFileName(dataset)}/{Path.GetFileName(fold)}: failed: {ex.Message}");
                }
                finally
                {
                    Directory.Delete(temp, recursive: true);
                }
            }
        }
    }
}
