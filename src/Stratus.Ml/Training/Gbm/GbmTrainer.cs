using System.Globalization;
using static Stratus.Ml.Training.Gbm.LightGbmNative;

namespace Stratus.Ml.Training.Gbm;

/// <summary>The hyperparameters of a LightGBM training.</summary>
public sealed record GbmOptions
{
    public int Iterations { get; init; } = 100;

    public double LearningRate { get; init; } = 0.1;

    public int Leaves { get; init; } = 31;

    public int MinDataInLeaf { get; init; } = 20;

    /// <summary>Share of features each tree may use.</summary>
    public double FeatureFraction { get; init; } = 1.0;

    /// <summary>Share of rows each tree is grown on (bagging every iteration when below 1).</summary>
    public double BaggingFraction { get; init; } = 1.0;

    /// <summary>L2 regularization of leaf values.</summary>
    public double L2 { get; init; }

    /// <summary>
    /// Stop when the first validation metric has not improved for this many iterations, or improved by too little to
    /// matter in as many (<see cref="GbmTrainer.MinImprovement"/>); 0 never stops early.
    /// </summary>
    public int EarlyStoppingRounds { get; init; }

    /// <summary>With early stopping: keep every iteration boosted, not only those up to the best (the caller chooses later).</summary>
    public bool KeepAllIterations { get; init; }

    /// <summary>Measure the training rows at every iteration (a learning curve's train series), not only the validation rows.</summary>
    public bool TrainMetrics { get; init; } = true;

    /// <summary>A random forest (LightGBM's <c>boosting=rf</c>): bagged trees, averaged.</summary>
    public bool RandomForest { get; init; }

    /// <summary>Extremely randomized trees: random split thresholds.</summary>
    public bool ExtraTrees { get; init; }

    /// <summary>Feature columns holding category codes (non-negative integers) that LightGBM splits on as categories.</summary>
    public IReadOnlyList<int> CategoricalFeatures { get; init; } = [];

    public int Seed { get; init; } = 42;
}

/// <summary>The metrics after one boosting iteration, on the training rows (unless not measured) and the validation rows (when given).</summary>
public sealed record GbmIteration(int Number, int Total, IReadOnlyDictionary<string, double>? Train, IReadOnlyDictionary<string, double>? Valid, TimeSpan Elapsed);

/// <summary>Metric values per iteration (index 0 is iteration 1), keyed <c>train.auc</c>, <c>valid.log_loss</c>, ...</summary>
public sealed record LearningCurve(IReadOnlyDictionary<string, double[]> Series, int BestIteration);

/// <summary>
/// Boosts a LightGBM model one iteration at a time, so that every iteration is evaluated (learning curves), reported
/// (live progress), can stop early, and can be cancelled between iterations.
/// </summary>
internal static class GbmTrainer
{
    /// <summary>
    /// Above this many training rows the training curve is measured on a fixed sample of them: evaluating every
    /// row after every iteration would cost as much as the boosting itself.
    /// </summary>
    public const int TrainCurveRows = 20_000;

    /// <summary>
    /// Early stopping's least progress: within the early-stopping rounds the validation loss must fall by this share of
    /// itself plus a tenth of the first iteration's loss, or boosting stops (the best iteration is kept either way).
    /// </summary>
    public const double MinImprovement = 1e-3;

    /// <summary>
    /// LightGBM's metric names per task, in the order it reports them, with the names Stratus uses. The first decides
    /// early stopping: a loss, which keeps improving where AUC or accuracy have already saturated.
    /// </summary>
    private static (string LightGbm, string Name, bool HigherIsBetter)[] Metrics(MlTask task)
    {
        (string, string)[] names = task switch
        {
            MlTask.BinaryClassification => [("binary_logloss", "log_loss"), ("auc", "auc")],
            MlTask.MulticlassClassification => [("multi_logloss", "log_loss"), ("multi_error", "error")],
            _ => [("rmse", "rmse"), ("l1", "mae")],
        };
        return [.. names.Select(n => (n.Item1, n.Item2, MetricCatalog.HigherIsBetter(n.Item2)))];
    }

    public static (GbmModel Model, LearningCurve Curve) Train(
        SparseRows x, float[] y, SparseRows? validX, float[]? validY, MlTask task, int classes, GbmOptions o,
        Action<GbmIteration>? progress, CancellationToken ct, CancellationToken stop = default)
    {
        if (x.Rows != y.Length) throw new ArgumentException("one label per row is needed", nameof(y));
        var metrics = Metrics(task);
        var sampled = o.TrainMetrics && x.Rows > TrainCurveRows;
        var parameters = Parameters(task, classes, o, metrics, trainMetric: o.TrainMetrics && !sampled);
        var started = System.Diagnostics.Stopwatch.StartNew();

        var datasets = new List<DatasetHandle>();
        BoosterHandle? booster = null;
        var handedOver = false;
        try
        {
            var train = Add(Dataset(x, y, parameters, null));
            var valid = validX is null ? null : Add(Dataset(validX, validY!, parameters, train));
            var trainSample = sampled ? Add(Dataset(x.Sample(y, TrainCurveRows), parameters, train)) : null;
            Check(BoosterCreate(train, parameters, out booster));
            // Evaluation data: 0 is the training set itself, then the validation set and the training sample, as added.
            if (valid is not null) Check(BoosterAddValidData(booster, valid));
            if (trainSample is not null) Check(BoosterAddValidData(booster, trainSample));
            var trainData = trainSample is null ? 0 : valid is null ? 1 : 2;
            var series = new Dictionary<string, List<double>>(StringComparer.Ordinal);
            var values = new double[16];
            var best = 0;
            var bestScore = double.NaN;
            var progressed = 0;
            var progressScore = double.NaN;
            var firstScore = double.NaN;
            for (var i = 1; i <= o.Iterations; i++)
            {
                ct.ThrowIfCancellationRequested();
                if (stop.IsCancellationRequested && i > 1) break; // the model as it stands
                Check(BoosterUpdateOneIter(booster, out var finished));
                if (finished != 0) break; // no split improves the model any more
                var trainMetrics = o.TrainMetrics ? Evaluate(booster, trainData, "train", metrics, values, series) : null;
                var validMetrics = valid is null ? null : Evaluate(booster, 1, "valid", metrics, values, series);
                progress?.Invoke(new GbmIteration(i, o.Iterations, trainMetrics, validMetrics, started.Elapsed));
                if (validMetrics is null) continue;
                var score = validMetrics[metrics[0].Name] * (metrics[0].HigherIsBetter ? 1 : -1);
                if (best == 0 || score > bestScore)
                {
                    best = i;
                    bestScore = score;
                }
                // Progress is what beats the last progress by a share of it, or of the first iteration's loss when the
                // loss nears 0: on rows a booster can separate, it keeps falling by millionths for thousands of
                // iterations, which cost time and change nothing.
                if (progressed == 0) firstScore = score;
                if (progressed == 0 || score - progressScore > MinImprovement * (Math.Abs(progressScore) + 0.1 * Math.Abs(firstScore)))
                {
                    progressed = i;
                    progressScore = score;
                }
                else if (o.EarlyStoppingRounds > 0 && i - progressed >= o.EarlyStoppingRounds)
                {
                    break;
                }
            }
            Check(BoosterGetCurrentIteration(booster, out var done));
            // With early stopping the model keeps its best iteration; without, every iteration it boosted.
            var keep = o.EarlyStoppingRounds > 0 && best > 0 ? best : done;
            var curve = new LearningCurve(series.ToDictionary(s => s.Key, s => s.Value.ToArray()), best > 0 ? best : done);
            if (o.KeepAllIterations)
            {
                // The booster as it is, with the data it was trained on: no round trip through model text, which
                // costs seconds for thousands of trees.
                handedOver = true;
                return (GbmModel.Owning(booster, datasets), curve);
            }
            return (GbmModel.From(booster, keep), curve);
        }
        finally
        {
            if (!handedOver)
            {
                booster?.Dispose();
                foreach (var d in datasets) d.Dispose();
            }
        }

        DatasetHandle Add(DatasetHandle dataset)
        {
            datasets.Add(dataset);
            return dataset;
        }
    }

    private static Dictionary<string, double> Evaluate(BoosterHandle booster, int data, string prefix,
        (string LightGbm, string Name, bool HigherIsBetter)[] metrics, double[] values, Dictionary<string, List<double>> series)
    {
        Check(BoosterGetEval(booster, data, out var count, values));
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        for (var m = 0; m < Math.Min(count, metrics.Length); m++)
        {
            result[metrics[m].Name] = values[m];
            var key = $"{prefix}.{metrics[m].Name}";
            if (!series.TryGetValue(key, out var list)) series[key] = list = [];
            list.Add(values[m]);
        }
        return result;
    }

    private static DatasetHandle Dataset((SparseRows X, float[] Y) data, string parameters, DatasetHandle reference) => Dataset(data.X, data.Y, parameters, reference);

    private static DatasetHandle Dataset(SparseRows x, float[] y, string parameters, DatasetHandle? reference)
    {
        // A validation set shares the training set's bins, as LightGBM requires for comparable scores.
        Check(DatasetCreateFromCsr(x.RowStarts, DtypeInt64, x.Indices, x.Values, DtypeFloat32, x.RowStarts.Length, x.Values.Length, x.Columns,
            parameters, reference?.DangerousGetHandle() ?? IntPtr.Zero, out var handle));
        Check(DatasetSetField(handle, "label", y, y.Length, DtypeFloat32));
        return handle;
    }

    private static string Parameters(MlTask task, int classes, GbmOptions o, (string LightGbm, string Name, bool HigherIsBetter)[] metrics, bool trainMetric)
    {
        var p = new List<string>
        {
            task switch
            {
                MlTask.BinaryClassification => "objective=binary",
                MlTask.MulticlassClassification => $"objective=multiclass num_class={classes}",
                _ => "objective=regression",
            },
            "metric=" + string.Join(',', metrics.Select(m => m.LightGbm)),
            $"is_provide_training_metric={(trainMetric ? "true" : "false")}",
            $"learning_rate={o.LearningRate.ToString("R", CultureInfo.InvariantCulture)}",
            $"num_leaves={o.Leaves}",
            $"min_data_in_leaf={o.MinDataInLeaf}",
            $"feature_fraction={o.FeatureFraction.ToString("R", CultureInfo.InvariantCulture)}",
            $"lambda_l2={o.L2.ToString("R", CultureInfo.InvariantCulture)}",
            $"seed={o.Seed}",
            "deterministic=true",
            "force_row_wise=true",
            "verbosity=-1",
        };
        // A forest needs each tree on a sample of its own: without one every tree would be the same.
        var bagging = o.RandomForest && o.BaggingFraction >= 1 ? 0.632 : o.BaggingFraction;
        if (bagging < 1) p.Add($"bagging_fraction={bagging.ToString("R", CultureInfo.InvariantCulture)} bagging_freq=1");
        if (o.RandomForest) p.Add("boosting=rf");
        if (o.ExtraTrees) p.Add("extra_trees=true");
        if (o.CategoricalFeatures.Count > 0)
        {
            // LightGBM's default of 100 rows per category group would keep small data from any categorical split.
            p.Add($"categorical_feature={string.Join(',', o.CategoricalFeatures)} min_data_per_group={Math.Max(1, o.MinDataInLeaf)}");
        }
        // Threads are the process's, never the training's: see LightGbmThreads.
        return LightGbmThreads.With(string.Join(' ', p));
    }
}
