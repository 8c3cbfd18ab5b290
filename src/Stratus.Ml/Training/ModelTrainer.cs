using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.LightGbm;
using Stratus.Ml.Data;

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

    /// <summary>Columns to leave out of the features (identifiers, leaks).</summary>
    public IReadOnlyCollection<string> Exclude { get; init; } = [];
}

/// <summary>A trained pipeline and how well it did on data it did not see.</summary>
public sealed record TrainResult(
    ITransformer Model,
    DataViewSchema InputSchema,
    MlTask Task,
    string Trainer,
    IReadOnlyList<FeatureColumn> Features,
    IReadOnlyList<string> Classes,
    IReadOnlyDictionary<string, double> Metrics,
    IReadOnlyList<IReadOnlyList<long>>? ConfusionMatrix,
    string Validation,
    TimeSpan Duration,
    IReadOnlyDictionary<string, IReadOnlyList<string>> Categories,
    IReadOnlyDictionary<string, double> FeatureImportance);

/// <summary>Trains ML.NET models on Stratus datasets: featurization from the profile, a trainer per task, validation and metrics.</summary>
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
    /// <param name="progress">Receives a line per finished step (each fold, the final fit, the importance).</param>
    public static TrainResult Train(string parquet, IReadOnlyList<ColumnProfile> profile, TrainOptions options, string tempDirectory, IProgress<string>? progress = null, CancellationToken ct = default)
    {
        var started = Stopwatch.StartNew();
        var (task, features) = Plan(profile, options);
        var target = profile.First(c => c.Name == options.Target);

        var ml = new MLContext(options.Seed);
        var csv = Path.Combine(tempDirectory, $"train-{Guid.NewGuid():N}.csv");
        try
        {
            var data = TrainingData.Load(ml, parquet, features, target, task, csv, tempDirectory);
            var pipeline = Featurize(ml, features, task, options.Trainer).Append(Trainer(ml, task, options));
            var rows = target.Count;
            var folds = options.Folds > 0 ? options.Folds : rows < HoldoutRows ? 5 : 0;
            ct.ThrowIfCancellationRequested();
            ITransformer model;
            IDataView importanceData;
            IReadOnlyDictionary<string, double> metrics;
            IReadOnlyList<IReadOnlyList<long>>? confusion;
            string validation;
            if (folds > 1)
            {
                // Small data: cross-validate for honest metrics, then fit the model on every row.
                (metrics, confusion, validation) = CrossValidate(ml, data, pipeline, task, folds, options.Seed, progress, ct);
                ct.ThrowIfCancellationRequested();
                progress?.Report($"fitting the final model on all {rows:N0} rows");
                model = pipeline.Fit(data);
                importanceData = data; // the model saw these rows: importance is in-sample here
            }
            else
            {
                // Large data: the model fitted on 80% is the one measured on the other 20%, and the one kept.
                progress?.Report($"fitting on 80% of {rows:N0} rows, measuring on the other 20%");
                (model, metrics, confusion, validation, importanceData) = Holdout(ml, data, pipeline, task, options.Seed);
            }
            var classes = task switch
            {
                MlTask.BinaryClassification => BinaryClasses(target),
                MlTask.MulticlassClassification => KeyValues(model.GetOutputSchema(data.Schema)),
                _ => [],
            };
            var categories = TrainingData.Categories(parquet, features, tempDirectory);
            ct.ThrowIfCancellationRequested();
            var importance = FeatureImportance.Compute(ml, model, importanceData, features, task, options.Seed);
            return new TrainResult(model, data.Schema, task, options.Trainer, features, classes, metrics, confusion, validation, started.Elapsed, categories, importance);
        }
        finally
        {
            File.Delete(csv);
        }
    }

    private static IEstimator<ITransformer> Featurize(MLContext ml, IReadOnlyList<FeatureColumn> features, MlTask task, string trainer)
    {
        IEstimator<ITransformer> chain = task == MlTask.MulticlassClassification
            ? ml.Transforms.Conversion.MapValueToKey(TrainingData.LabelColumn)
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

    private static IEstimator<ITransformer> Trainer(MLContext ml, MlTask task, TrainOptions o)
    {
        const string label = TrainingData.LabelColumn;
        return (task, o.Trainer) switch
        {
            (MlTask.BinaryClassification, "lightgbm") => ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options { LabelColumnName = label, NumberOfIterations = o.Iterations, LearningRate = o.LearningRate, NumberOfLeaves = o.Leaves, Seed = o.Seed, Verbose = false, Silent = true }),
            (MlTask.BinaryClassification, "fasttree") => ml.BinaryClassification.Trainers.FastTree(label, numberOfTrees: o.Iterations, numberOfLeaves: o.Leaves ?? 20, learningRate: o.LearningRate ?? 0.2),
            (MlTask.BinaryClassification, "fastforest") => ml.BinaryClassification.Trainers.FastForest(label, numberOfTrees: o.Iterations, numberOfLeaves: o.Leaves ?? 20)
                .Append(ml.BinaryClassification.Calibrators.Platt(label)),
            (MlTask.BinaryClassification, "sdca") => ml.BinaryClassification.Trainers.SdcaLogisticRegression(label, maximumNumberOfIterations: o.Iterations),
            (MlTask.BinaryClassification, "lbfgs") => ml.BinaryClassification.Trainers.LbfgsLogisticRegression(label),
            (MlTask.MulticlassClassification, "lightgbm") => ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options { LabelColumnName = label, NumberOfIterations = o.Iterations, LearningRate = o.LearningRate, NumberOfLeaves = o.Leaves, Seed = o.Seed, Verbose = false, Silent = true })
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")),
            (MlTask.MulticlassClassification, "fasttree") => ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: o.Iterations, numberOfLeaves: o.Leaves ?? 20), label)
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")),
            (MlTask.MulticlassClassification, "fastforest") => ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastForest(numberOfTrees: o.Iterations, numberOfLeaves: o.Leaves ?? 20), label)
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")),
            (MlTask.MulticlassClassification, "sdca") => ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(label, maximumNumberOfIterations: o.Iterations)
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")),
            (MlTask.MulticlassClassification, _) => ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(label)
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")),
            (MlTask.Regression, "lightgbm") => ml.Regression.Trainers.LightGbm(new LightGbmRegressionTrainer.Options { LabelColumnName = label, NumberOfIterations = o.Iterations, LearningRate = o.LearningRate, NumberOfLeaves = o.Leaves, Seed = o.Seed, Verbose = false, Silent = true }),
            (MlTask.Regression, "fasttree") => ml.Regression.Trainers.FastTree(label, numberOfTrees: o.Iterations, numberOfLeaves: o.Leaves ?? 20, learningRate: o.LearningRate ?? 0.2),
            (MlTask.Regression, "fastforest") => ml.Regression.Trainers.FastForest(label, numberOfTrees: o.Iterations, numberOfLeaves: o.Leaves ?? 20),
            _ => ml.Regression.Trainers.Sdca(label, maximumNumberOfIterations: o.Iterations),
        };
    }

    private static (ITransformer, IReadOnlyDictionary<string, double>, IReadOnlyList<IReadOnlyList<long>>?, string, IDataView) Holdout(MLContext ml, IDataView data, IEstimator<ITransformer> pipeline, MlTask task, int seed)
    {
        var split = ml.Data.TrainTestSplit(data, testFraction: 0.2, seed: seed);
        var model = pipeline.Fit(split.TrainSet);
        long[][]? confusion = null;
        var metrics = Evaluate(ml, model.Transform(split.TestSet), task, ref confusion);
        return (model, metrics, confusion, "holdout 20%", split.TestSet);
    }

    private static (IReadOnlyDictionary<string, double>, IReadOnlyList<IReadOnlyList<long>>?, string) CrossValidate(
        MLContext ml, IDataView data, IEstimator<ITransformer> pipeline, MlTask task, int folds, int seed, IProgress<string>? progress, CancellationToken ct)
    {
        // Folds come from the seed, so the same seed gives the same folds; metrics are averaged, confusion matrices summed.
        var perFold = new List<IReadOnlyDictionary<string, double>>();
        long[][]? confusion = null;
        var splits = ml.Data.CrossValidationSplit(data, folds, seed: seed);
        for (var k = 0; k < splits.Count; k++)
        {
            ct.ThrowIfCancellationRequested();
            var started = Stopwatch.StartNew();
            var model = pipeline.Fit(splits[k].TrainSet);
            var metrics = Evaluate(ml, model.Transform(splits[k].TestSet), task, ref confusion);
            perFold.Add(metrics);
            progress?.Report($"fold {k + 1}/{folds} in {started.Elapsed.TotalSeconds:F1} s: {Headline(metrics)}");
        }
        var averaged = perFold[0].Keys.ToDictionary(key => key, key => perFold.Average(m => m[key]));
        return (averaged, confusion, $"{folds}-fold cross-validation");
    }

    /// <summary>The metric people look at first: AUC, accuracy or RMSE.</summary>
    private static string Headline(IReadOnlyDictionary<string, double> metrics)
    {
        var key = metrics.ContainsKey("auc") ? "auc" : metrics.ContainsKey("accuracy") ? "accuracy" : "rmse";
        return $"{key} {metrics[key]:F4}";
    }

    private static IReadOnlyDictionary<string, double> Evaluate(MLContext ml, IDataView scored, MlTask task, ref long[][]? confusion) => task switch
    {
        MlTask.BinaryClassification => Binary(ml.BinaryClassification.Evaluate(scored, TrainingData.LabelColumn), ref confusion),
        MlTask.MulticlassClassification => Multiclass(ml.MulticlassClassification.Evaluate(scored, TrainingData.LabelColumn), ref confusion),
        _ => Regression(ml.Regression.Evaluate(scored, TrainingData.LabelColumn)),
    };

    private static Dictionary<string, double> Binary(CalibratedBinaryClassificationMetrics m, ref long[][]? confusion)
    {
        Accumulate(ref confusion, m.ConfusionMatrix);
        return new()
        {
            ["auc"] = m.AreaUnderRocCurve,
            ["pr_auc"] = m.AreaUnderPrecisionRecallCurve,
            ["accuracy"] = m.Accuracy,
            ["f1"] = m.F1Score,
            ["log_loss"] = m.LogLoss,
        };
    }

    private static Dictionary<string, double> Multiclass(MulticlassClassificationMetrics m, ref long[][]? confusion)
    {
        Accumulate(ref confusion, m.ConfusionMatrix);
        return new()
        {
            ["accuracy"] = m.MicroAccuracy,
            ["macro_accuracy"] = m.MacroAccuracy,
            ["log_loss"] = m.LogLoss,
        };
    }

    private static Dictionary<string, double> Regression(RegressionMetrics m) => new()
    {
        ["rmse"] = m.RootMeanSquaredError,
        ["mae"] = m.MeanAbsoluteError,
        ["r2"] = m.RSquared,
    };

    private static void Accumulate(ref long[][]? total, ConfusionMatrix matrix)
    {
        var n = matrix.NumberOfClasses;
        total ??= [.. Enumerable.Range(0, n).Select(_ => new long[n])];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++) total[i][j] += (long)matrix.Counts[i][j];
        }
    }

    private static List<string> BinaryClasses(ColumnProfile target)
    {
        var positive = TrainingData.PositiveClass(target);
        var negative = target.Type == "BOOLEAN" ? "false"
            : DuckDb.IsNumeric(target.Type) ? (target.Min ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture)
            : (target.TopValues ?? []).Select(v => v.Value).FirstOrDefault(v => v != positive) ?? "";
        return [negative, positive];
    }

    private static List<string> KeyValues(DataViewSchema schema)
    {
        var column = schema[TrainingData.LabelColumn];
        VBuffer<ReadOnlyMemory<char>> keys = default;
        column.GetKeyValues(ref keys);
        return [.. keys.DenseValues().Select(k => k.ToString())];
    }
}
