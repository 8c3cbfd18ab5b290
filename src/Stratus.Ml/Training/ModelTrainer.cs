using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Stratus.Ml.Data;
using Stratus.Ml.Training.Gbm;

namespace Stratus.Ml.Training;

/// <summary>How a model is trained and validated.</summary>
public sealed record TrainOptions
{
    /// <summary>The column to predict.</summary>
    public required string Target { get; init; }

    /// <summary>The task; inferred from the target when null.</summary>
    public MlTask? Task { get; init; }

    /// <summary>lightgbm (default), fasttree, fastforest, sdca or lbfgs.</summary>
    public string Trainer { get; init; } = "lightgbm";

    /// <summary>Seed for the split and the trainer: the same seed and data give the same model.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Number of folds for cross-validation; 0 chooses: 5 folds under <see cref="ModelTrainer.HoldoutRows"/> rows, a 20% holdout above.</summary>
    public int Folds { get; init; }

    /// <summary>Trees (boosting iterations) of tree trainers; epochs of linear ones. Default: 100.</summary>
    public int Iterations { get; init; } = 100;

    /// <summary>Learning rate of boosted trees. Default: trainer's own.</summary>
    public double? LearningRate { get; init; }

    /// <summary>Leaves per tree. Default: trainer's own.</summary>
    public int? Leaves { get; init; }

    /// <summary>LightGBM: stop when the validation metric has not improved for this many iterations (0: never).</summary>
    public int EarlyStoppingRounds { get; init; }

    /// <summary>Columns to leave out of the features (identifiers, leaks).</summary>
    public IReadOnlyCollection<string> Exclude { get; init; } = [];
}

/// <summary>A trained model and how well it did on data it did not see.</summary>
/// <param name="ConfusionMatrix">Classification only: counts by actual (rows) and predicted (columns) class, in <see cref="Classes"/> order.</param>
/// <param name="Curve">LightGBM only: metrics per boosting iteration on the validation rows (averaged over folds) and the training rows.</param>
public sealed record TrainResult(
    TrainedModel Model,
    MlTask Task,
    string Trainer,
    IReadOnlyList<FeatureColumn> Features,
    IReadOnlyList<string> Classes,
    IReadOnlyDictionary<string, double> Metrics,
    IReadOnlyList<IReadOnlyList<long>>? ConfusionMatrix,
    string Validation,
    TimeSpan Duration,
    IReadOnlyDictionary<string, IReadOnlyList<string>> Categories,
    IReadOnlyDictionary<string, double> FeatureImportance,
    LearningCurve? Curve);

/// <summary>Trains models on Stratus datasets: featurization from the profile, a trainer per task, validation and metrics.</summary>
public static class ModelTrainer
{
    /// <summary>Datasets with fewer rows are cross-validated; larger ones use a holdout.</summary>
    public const long HoldoutRows = 20_000;

    /// <summary>The trainers, by name.</summary>
    public static IReadOnlyList<string> Trainers { get; } = ["lightgbm", "fasttree", "fastforest", "sdca", "lbfgs"];

    /// <summary>Checks that the options fit the dataset (target, task, features, trainer) and returns the task and features, without training.</summary>
    /// <exception cref="DataFormatException">What does not fit, by name.</exception>
    public static (MlTask Task, IReadOnlyList<FeatureColumn> Features) Plan(IReadOnlyList<ColumnProfile> profile, TrainOptions options)
    {
        var features = TrainingData.PlanFeatures(profile, options.Target, options.Exclude);
        var target = profile.First(c => c.Name == options.Target);
        if (target.Distinct < 2) throw new DataFormatException($"target column '{target.Name}' is constant: there is nothing to predict");
        var task = options.Task ?? MlTasks.Detect(target);
        if (!Trainers.Contains(options.Trainer)) throw new DataFormatException($"trainer '{options.Trainer}' is not one of {string.Join(", ", Trainers)}");
        if (task == MlTask.Regression && options.Trainer == "lbfgs") throw new DataFormatException("trainer 'lbfgs' classifies; for regression use lightgbm, fasttree, fastforest or sdca");
        if (task == MlTask.Regression && !DuckDb.IsNumeric(target.Type)) throw new DataFormatException($"target column '{target.Name}' is {target.Type}; regression needs a number");
        return (task, features);
    }

    /// <summary>Trains on a stored Parquet dataset whose profile is known.</summary>
    /// <exception cref="DataFormatException">The target, the features or the trainer do not fit; nothing was trained.</exception>
    /// <param name="progress">Receives a line per finished step (each fold, the final fit, the importance) and, for LightGBM, about one a second with the iteration and its validation metrics.</param>
    public static TrainResult Train(string parquet, IReadOnlyList<ColumnProfile> profile, TrainOptions options, string tempDirectory, IProgress<string>? progress = null, CancellationToken ct = default)
    {
        var started = Stopwatch.StartNew();
        var (task, features) = Plan(profile, options);
        var target = profile.First(c => c.Name == options.Target);

        var ml = new MLContext(options.Seed);
        var csv = Path.Combine(tempDirectory, $"train-{Guid.NewGuid():N}.csv");
        try
        {
            var data = ml.Data.Cache(TrainingData.Load(ml, parquet, features, target, task, csv, tempDirectory));
            var classes = task switch
            {
                MlTask.BinaryClassification => BinaryClasses(target),
                MlTask.MulticlassClassification => TrainingData.Classes(parquet, target, tempDirectory),
                _ => [],
            };
            var fitter = new Fitter(ml, features, task, classes, options, progress, ct);
            var rows = target.Count;
            var folds = options.Folds > 0 ? options.Folds : rows < HoldoutRows ? 5 : 0;
            ct.ThrowIfCancellationRequested();
            TrainedModel model;
            IDataView importanceData;
            Evaluation evaluation;
            string validation;
            if (folds > 1)
            {
                // Small data: cross-validate for honest metrics, then fit the model on every row.
                validation = $"{folds}-fold cross-validation";
                evaluation = CrossValidate(ml, data, fitter, folds, options.Seed, progress, ct);
                ct.ThrowIfCancellationRequested();
                progress?.Report($"fitting the final model on all {rows:N0} rows");
                // With early stopping, the final model boosts as long as the folds found best.
                var iterations = options.EarlyStoppingRounds > 0 ? evaluation.Curve?.BestIteration : null;
                model = fitter.Fit(data, null, "final", iterations).Model;
                importanceData = data; // the model saw these rows: importance is in-sample here
            }
            else
            {
                // Large data: the model fitted on 80% is the one measured on the other 20%, and the one kept.
                validation = "holdout 20%";
                progress?.Report($"fitting on 80% of {rows:N0} rows, measuring on the other 20%");
                var split = ml.Data.TrainTestSplit(data, testFraction: 0.2, seed: options.Seed);
                var (fitted, curve) = fitter.Fit(split.TrainSet, split.TestSet, "holdout", null);
                model = fitted;
                var (metrics, confusion) = ModelMetrics.Compute(task, TrainedModel.Labels(split.TestSet, task, classes), model.Score(split.TestSet), classes.Count);
                evaluation = new Evaluation(metrics, confusion, curve);
                importanceData = split.TestSet;
            }
            var categories = TrainingData.Categories(parquet, features, tempDirectory);
            ct.ThrowIfCancellationRequested();
            var importance = FeatureImportance.Compute(ml, model, importanceData, features, options.Seed);
            return new TrainResult(model, task, options.Trainer, features, classes, evaluation.Metrics, evaluation.Confusion, validation, started.Elapsed,
                categories, importance, evaluation.Curve);
        }
        finally
        {
            File.Delete(csv);
        }
    }

    private sealed record Evaluation(IReadOnlyDictionary<string, double> Metrics, long[][]? Confusion, LearningCurve? Curve);

    /// <summary>Fits one model (a fold, the holdout, or the final one) with the trainer the options name.</summary>
    private sealed class Fitter(MLContext ml, IReadOnlyList<FeatureColumn> features, MlTask task, IReadOnlyList<string> classes, TrainOptions options,
        IProgress<string>? progress, CancellationToken ct)
    {
        public (TrainedModel Model, LearningCurve? Curve) Fit(IDataView train, IDataView? valid, string step, int? iterations)
        {
            if (options.Trainer != "lightgbm")
            {
                var pipeline = Featurize(ml, features, task, options.Trainer, classes).Append(Trainer(ml, task, options)).Fit(train);
                return (new TrainedModel(pipeline, train.Schema, null, task, classes), null);
            }
            // LightGBM: ML.NET featurizes, Stratus boosts natively one iteration at a time.
            var featurizer = Featurize(ml, features, task, options.Trainer, classes).Fit(train);
            var (x, y) = SparseRows.ReadWithLabels(featurizer.Transform(train), task, classes);
            var (validX, validY) = valid is null ? (null, null) : SparseRows.ReadWithLabels(featurizer.Transform(valid), task, classes);
            var gbm = new GbmOptions
            {
                Iterations = iterations ?? options.Iterations,
                LearningRate = options.LearningRate ?? 0.1,
                Leaves = options.Leaves ?? 31,
                Seed = options.Seed,
                EarlyStoppingRounds = options.EarlyStoppingRounds,
            };
            var reported = TimeSpan.Zero;
            var (booster, curve) = GbmTrainer.Train(x, y, validX, validY, task, classes.Count, gbm, i =>
            {
                // The first iteration, about one a second, and the last: live progress without flooding the job log.
                if (i.Number != 1 && i.Number != i.Total && i.Elapsed - reported < TimeSpan.FromSeconds(1)) return;
                reported = i.Elapsed;
                var metrics = i.Valid is { } v ? "valid " + Format(v) : "train " + Format(i.Train);
                progress?.Report($"{step}: iteration {i.Number}/{i.Total}, {metrics} ({i.Elapsed.TotalSeconds:F1} s)");
            }, ct);
            return (new TrainedModel(featurizer, train.Schema, booster, task, classes), curve);
        }

        private static string Format(IReadOnlyDictionary<string, double> metrics) =>
            string.Join(", ", metrics.Select(m => $"{m.Key} {m.Value.ToString("F4", CultureInfo.InvariantCulture)}"));
    }

    private static IEstimator<ITransformer> Featurize(MLContext ml, IReadOnlyList<FeatureColumn> features, MlTask task, string trainer, IReadOnlyList<string> classes)
    {
        // ML.NET's multiclass trainers read the label as a key; keyed in class order, their scores come out in that order.
        IEstimator<ITransformer> chain = task == MlTask.MulticlassClassification && trainer != "lightgbm"
            ? ml.Transforms.Conversion.MapValueToKey(TrainingData.LabelColumn, keyData: ml.Data.LoadFromEnumerable(classes.Select(c => new ClassRow { Value = c })))
            : new EstimatorChain<ITransformer>();
        var parts = new List<string>();
        foreach (var f in features)
        {
            var output = $"f_{parts.Count}";
            switch (f.Kind)
            {
                case FeatureKind.Numeric when trainer == "lightgbm":
                    // LightGBM learns where missing values go at each split: NaN stays NaN.
                    parts.Add(f.Name);
                    break;
                case FeatureKind.Numeric:
                    // The indicator lets the other trainers learn from missingness itself.
                    chain = chain.Append(ml.Transforms.IndicateMissingValues(output + "_missing", f.Name))
                        .Append(ml.Transforms.Conversion.ConvertType(output + "_missing", outputKind: DataKind.Single))
                        .Append(ml.Transforms.ReplaceMissingValues(output, f.Name));
                    parts.Add(output);
                    parts.Add(output + "_missing");
                    break;
                case FeatureKind.Categorical:
                    chain = chain.Append(ml.Transforms.Categorical.OneHotEncoding(output, f.Name));
                    parts.Add(output);
                    break;
                case FeatureKind.HighCardinality:
                    chain = chain.Append(ml.Transforms.Categorical.OneHotHashEncoding(output, f.Name, numberOfBits: 12));
                    parts.Add(output);
                    break;
                case FeatureKind.Text:
                    chain = chain.Append(ml.Transforms.Text.FeaturizeText(output, f.Name));
                    parts.Add(output);
                    break;
            }
        }
        chain = chain.Append(ml.Transforms.Concatenate("Features", [.. parts]));
        if (trainer is "sdca" or "lbfgs") chain = chain.Append(ml.Transforms.NormalizeMinMax("Features"));
        return chain;
    }

    private sealed class ClassRow
    {
        public string Value { get; set; } = "";
    }

    private static IEstimator<ITransformer> Trainer(MLContext ml, MlTask task, TrainOptions o)
    {
        const string label = TrainingData.LabelColumn;
        return (task, o.Trainer) switch
        {
            (MlTask.BinaryClassification, "fasttree") => ml.BinaryClassification.Trainers.FastTree(label, numberOfTrees: o.Iterations, numberOfLeaves: o.Leaves ?? 20, learningRate: o.LearningRate ?? 0.2),
            (MlTask.BinaryClassification, "fastforest") => ml.BinaryClassification.Trainers.FastForest(label, numberOfTrees: o.Iterations, numberOfLeaves: o.Leaves ?? 20)
                .Append(ml.BinaryClassification.Calibrators.Platt(label)),
            (MlTask.BinaryClassification, "sdca") => ml.BinaryClassification.Trainers.SdcaLogisticRegression(label, maximumNumberOfIterations: o.Iterations),
            (MlTask.BinaryClassification, "lbfgs") => ml.BinaryClassification.Trainers.LbfgsLogisticRegression(label),
            (MlTask.MulticlassClassification, "fasttree") => ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: o.Iterations, numberOfLeaves: o.Leaves ?? 20), label)
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")),
            (MlTask.MulticlassClassification, "fastforest") => ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastForest(numberOfTrees: o.Iterations, numberOfLeaves: o.Leaves ?? 20), label)
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")),
            (MlTask.MulticlassClassification, "sdca") => ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(label, maximumNumberOfIterations: o.Iterations)
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")),
            (MlTask.MulticlassClassification, _) => ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(label)
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")),
            (MlTask.Regression, "fasttree") => ml.Regression.Trainers.FastTree(label, numberOfTrees: o.Iterations, numberOfLeaves: o.Leaves ?? 20, learningRate: o.LearningRate ?? 0.2),
            (MlTask.Regression, "fastforest") => ml.Regression.Trainers.FastForest(label, numberOfTrees: o.Iterations, numberOfLeaves: o.Leaves ?? 20),
            _ => ml.Regression.Trainers.Sdca(label, maximumNumberOfIterations: o.Iterations),
        };
    }

    private static Evaluation CrossValidate(MLContext ml, IDataView data, Fitter fitter, int folds, int seed, IProgress<string>? progress, CancellationToken ct)
    {
        // Folds come from the seed, so the same seed gives the same folds; metrics and curves are averaged, confusion matrices summed.
        var perFold = new List<Dictionary<string, double>>();
        var curves = new List<LearningCurve>();
        long[][]? confusion = null;
        var splits = ml.Data.CrossValidationSplit(data, folds, seed: seed);
        for (var k = 0; k < splits.Count; k++)
        {
            ct.ThrowIfCancellationRequested();
            var started = Stopwatch.StartNew();
            var (model, curve) = fitter.Fit(splits[k].TrainSet, splits[k].TestSet, $"fold {k + 1}/{folds}", null);
            var labels = TrainedModel.Labels(splits[k].TestSet, model.Task, model.Classes);
            var (metrics, matrix) = ModelMetrics.Compute(model.Task, labels, model.Score(splits[k].TestSet), model.Classes.Count);
            perFold.Add(metrics);
            if (curve is not null) curves.Add(curve);
            if (matrix is not null)
            {
                confusion ??= [.. matrix.Select(r => new long[r.Length])];
                for (var i = 0; i < matrix.Length; i++)
                {
                    for (var j = 0; j < matrix.Length; j++) confusion[i][j] += matrix[i][j];
                }
            }
            var headline = ModelMetrics.Primary(model.Task);
            progress?.Report($"fold {k + 1}/{folds} in {started.Elapsed.TotalSeconds:F1} s: {headline} {metrics[headline]:F4}");
        }
        // A fold without one of the classes has no AUC: average what the folds could measure.
        var averaged = new Dictionary<string, double>();
        foreach (var key in perFold[0].Keys)
        {
            var values = perFold.Select(m => m[key]).Where(double.IsFinite).ToList();
            if (values.Count > 0) averaged[key] = values.Average();
        }
        return new Evaluation(averaged, confusion, AverageCurves(curves));
    }

    /// <summary>The folds' curves averaged iteration by iteration, over the iterations every fold ran; the best iteration averaged.</summary>
    private static LearningCurve? AverageCurves(List<LearningCurve> curves)
    {
        if (curves.Count == 0) return null;
        var series = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var key in curves[0].Series.Keys)
        {
            var length = curves.Min(c => c.Series.TryGetValue(key, out var s) ? s.Length : 0);
            series[key] = [.. Enumerable.Range(0, length).Select(i => curves.Average(c => c.Series[key][i]))];
        }
        return new LearningCurve(series, (int)Math.Round(curves.Average(c => c.BestIteration)));
    }

    private static List<string> BinaryClasses(ColumnProfile target)
    {
        var positive = TrainingData.PositiveClass(target);
        var negative = target.Type == "BOOLEAN" ? "false"
            : DuckDb.IsNumeric(target.Type) ? (target.Min ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture)
            : (target.TopValues ?? []).Select(v => v.Value).FirstOrDefault(v => v != positive) ?? "";
        return [negative, positive];
    }
}
