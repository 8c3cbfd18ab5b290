using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Stratus.Ml.Data;
using Stratus.Ml.Training.Gbm;

namespace Stratus.Ml.Training;

/// <summary>How one configuration did on the session's validation: averaged metrics, and the model when it is the one to keep.</summary>
/// <param name="Model">Holdout validation: the model measured, which is the one to keep. Cross-validation: null (refit on all rows).</param>
/// <param name="Confusion">Summed over the folds of the first repeat: each row counted once.</param>
/// <param name="Folds">Splits evaluated (folds times repeats); fewer than the session's when <c>keepGoing</c> stopped the evaluation early.</param>
/// <param name="Predictions">Scores of every validation row (out of fold), fold after fold and repeat after repeat, as <see cref="TrainedModel.Score(IDataView)"/> lays them out.</param>
/// <param name="Labels">The labels of those rows, in the same order: the same for every configuration of the session.</param>
/// <param name="PerFold">The metrics of each fold evaluated, in fold order.</param>
public sealed record Evaluation(
    IReadOnlyDictionary<string, double> Metrics,
    long[][]? Confusion,
    LearningCurve? Curve,
    TrainedModel? Model,
    int Folds,
    double[] Predictions,
    float[] Labels,
    IReadOnlyList<IReadOnlyDictionary<string, double>> PerFold);

/// <summary>
/// A dataset loaded once for any number of trainings: the model columns, the classes, and the validation splits (the
/// same for every configuration, from the seed). <see cref="ModelTrainer"/> evaluates one configuration in it, AutoML
/// many. LightGBM's featurized matrices are computed once per split and shared by every LightGBM configuration.
/// </summary>
public sealed class TrainingSession : IDisposable
{
    private readonly MLContext _ml;
    private readonly string _parquet;
    private readonly string _csv;
    private readonly string _tempDirectory;
    private readonly IDataView _data;
    private IReadOnlyList<(IDataView Train, IDataView Test)> _splits;
    private readonly Dictionary<(int Split, bool NativeCategories), (ITransformer Featurizer, SparseRows X, float[] Y, SparseRows? ValidX, float[]? ValidY)> _lightGbmData = [];
    private readonly int _seed;
    private IReadOnlyDictionary<string, IReadOnlyList<string>>? _categoryCodes;

    private TrainingSession(MLContext ml, string parquet, string csv, string tempDirectory, IDataView data, MlTask task, IReadOnlyList<FeatureColumn> features,
        IReadOnlyList<string> classes, long rows, int folds, int repeats, int seed)
    {
        _ml = ml;
        _parquet = parquet;
        _csv = csv;
        _tempDirectory = tempDirectory;
        _data = data;
        _seed = seed;
        Task = task;
        Features = features;
        Classes = classes;
        Rows = rows;
        Folds = folds;
        Repeats = folds > 1 ? Math.Max(1, repeats) : 1;
        _splits = folds > 1
            ? CrossValidation(folds, Repeats)
            : [(ml.Data.TrainTestSplit(data, testFraction: 0.2, seed: seed) is var split ? (split.TrainSet, split.TestSet) : default)];
    }

    /// <summary>The splits of <paramref name="folds"/>-fold cross-validation, <paramref name="repeats"/> times with a seed each (the first the session's).</summary>
    private List<(IDataView Train, IDataView Test)> CrossValidation(int folds, int repeats) =>
    [
        .. Enumerable.Range(0, repeats).SelectMany(r => _ml.Data.CrossValidationSplit(_data, folds, seed: _seed + r)).Select(s => (s.TrainSet, s.TestSet)),
    ];

    public MlTask Task { get; }

    public IReadOnlyList<FeatureColumn> Features { get; }

    /// <summary>Class labels in score order (binary: negative, positive); empty for regression.</summary>
    public IReadOnlyList<string> Classes { get; }

    public long Rows { get; }

    /// <summary>Cross-validation folds; 0 for a 20% holdout.</summary>
    public int Folds { get; private set; }

    /// <summary>How many times cross-validation is repeated with other splits (1 for a holdout).</summary>
    public int Repeats { get; private set; }

    /// <summary>The fits one evaluation makes: folds times repeats, or 1 (a holdout).</summary>
    public int Splits => _splits.Count;

    /// <summary>How the session validates, for people: <c>5-fold cross-validation</c>, <c>5-fold cross-validation repeated 3 times</c> or <c>holdout 20%</c>.</summary>
    public string Validation => Folds <= 1 ? "holdout 20%" : Repeats > 1 ? $"{Folds}-fold cross-validation repeated {Repeats} times" : $"{Folds}-fold cross-validation";

    /// <summary>Plans the features (target, task and exclusions from <paramref name="options"/>), loads the rows and draws the splits.</summary>
    /// <exception cref="DataFormatException">The target or the features do not fit.</exception>
    public static TrainingSession Open(string parquet, IReadOnlyList<ColumnProfile> profile, TrainOptions options, string tempDirectory)
    {
        var (task, features) = ModelTrainer.Plan(profile, options);
        var target = profile.First(c => c.Name == options.Target);
        var ml = new MLContext(options.Seed);
        var csv = Path.Combine(tempDirectory, $"train-{Guid.NewGuid():N}.csv");
        try
        {
            var data = ml.Data.Cache(TrainingData.Load(ml, parquet, features, target, task, csv, tempDirectory));
            // The classes from the data itself, never from an estimate: a model trained as binary on a target with
            // three values reports a fine accuracy and never predicts the third.
            if (task == MlTask.BinaryClassification && TrainingData.DistinctCount(parquet, target.Name, tempDirectory, 3) is var distinct && distinct != 2)
            {
                throw new DataFormatException($"target column '{target.Name}' has {(distinct > 2 ? "more than 2" : distinct.ToString(CultureInfo.InvariantCulture))} distinct values; " +
                    "binary classification needs exactly 2 (train it as multiclass)");
            }
            var classes = task switch
            {
                MlTask.BinaryClassification => BinaryClasses(target),
                MlTask.MulticlassClassification => TrainingData.Classes(parquet, target, tempDirectory),
                _ => [],
            };
            var folds = options.Folds > 0 ? options.Folds : target.Count < ModelTrainer.HoldoutRows ? 5 : 0;
            return new TrainingSession(ml, parquet, csv, tempDirectory, data, task, features, classes, target.Count, folds, options.Repeats, options.Seed);
        }
        catch
        {
            File.Delete(csv);
            throw;
        }
    }

    /// <summary>Featurizes the first split's rows for <paramref name="options"/> now (LightGBM), as the first fit would.</summary>
    public void Prepare(TrainOptions options)
    {
        if (options.Trainer == "lightgbm") LightGbmData(0, options.NativeCategories);
    }

    /// <summary>
    /// Validates from now on with <paramref name="folds"/> folds repeated <paramref name="repeats"/> times, or with a
    /// holdout when 0: then the first fold's split itself (a fifth of the rows held out under 5 folds), whose featurized
    /// rows are already there.
    /// </summary>
    public void Revalidate(int folds, int repeats = 1)
    {
        repeats = folds > 1 ? Math.Max(1, repeats) : 1;
        if (folds == Folds && repeats == Repeats) return;
        lock (_lightGbmData)
        {
            // The first repeat's splits are the same for the same folds (the session's seed), as is the first fold's
            // split for a holdout: their featurized rows stay.
            var kept = folds == Folds ? folds : folds <= 1 ? 1 : 0;
            _splits = folds > 1 ? CrossValidation(folds, repeats) : [_splits[0]];
            foreach (var key in _lightGbmData.Keys.Where(k => k.Split >= kept).ToList()) _lightGbmData.Remove(key);
            Folds = folds;
            Repeats = repeats;
        }
    }

    /// <summary>
    /// Measures one configuration on the session's splits: each fold (or the holdout) fitted and scored, metrics
    /// averaged, confusion matrices summed, learning curves averaged. With early stopping in cross-validation the
    /// number of trees is chosen once, where the folds' mean validation loss is lowest, and every fold is scored at
    /// that number (as <c>lgb.cv</c> and <c>xgb.cv</c> do): scoring each fold at its own best iteration would choose
    /// the trees on the very rows that measure them, and flatter small data.
    /// </summary>
    /// <param name="keepGoing">Called after each fold with the folds done and their averaged metrics so far; false stops (a trial that cannot win).</param>
    /// <param name="stop">
    /// Holdout validation, LightGBM: when it fires, boosting ends at the next iteration and the model as it stands is
    /// measured and kept (a partial model, better than none when a budget runs out); <paramref name="ct"/> abandons.
    /// </param>
    public Evaluation Evaluate(TrainOptions options, IProgress<string>? progress, Func<int, IReadOnlyDictionary<string, double>, bool>? keepGoing, CancellationToken ct,
        CancellationToken stop = default)
    {
        var common = options.Trainer == "lightgbm" && Folds > 1 && options.EarlyStoppingRounds > 0;
        var measured = new List<(Dictionary<string, double> Metrics, long[][]? Confusion, float[] Labels, double[] Scores)>();
        var curves = new List<LearningCurve>();
        var models = new List<TrainedModel>();
        TrainedModel? kept = null;
        for (var k = 0; k < _splits.Count; k++)
        {
            ct.ThrowIfCancellationRequested();
            var started = Stopwatch.StartNew();
            var step = Folds <= 1 ? "holdout" : Repeats > 1 ? $"fold {k % Folds + 1}/{Folds} of repeat {k / Folds + 1}/{Repeats}" : $"fold {k + 1}/{Folds}";
            var (model, curve) = Fit(k, options, step, null, progress, common, ct, Folds > 1 ? default : stop);
            models.Add(model);
            if (curve is not null) curves.Add(curve);
            // Until the common number of trees is known, each fold is followed at its own best iteration.
            var fold = Measure(k, model, common ? curve!.BestIteration : -1);
            measured.Add(fold);
            var metrics = fold.Metrics;
            if (Folds <= 1)
            {
                kept = model;
                break;
            }
            var headline = ModelMetrics.Primary(Task);
            progress?.Report($"{step} in {started.Elapsed.TotalSeconds:F1} s: {headline} {metrics[headline]:F4}");
            if (keepGoing is not null && k + 1 < _splits.Count && !keepGoing(k + 1, Average([.. measured.Select(m => m.Metrics)]))) break;
        }

        var averaged = AverageCurves(curves);
        var iterations = -1;
        if (common && averaged is not null)
        {
            var loss = averaged.Series[Task == MlTask.Regression ? "valid.rmse" : "valid.log_loss"];
            iterations = Array.IndexOf(loss, loss.Min()) + 1;
            averaged = averaged with { BestIteration = iterations };
            measured = [.. models.Select((m, k) => Measure(k, m, iterations))];
        }
        // Cross-validation keeps no fold model: their native memory goes now, not at some later collection.
        if (kept is null) models.ForEach(m => m.Booster?.Dispose());
        // Metrics per fold, confusion summed, out-of-fold predictions in fold order.
        var perFold = new List<Dictionary<string, double>>();
        long[][]? confusion = null;
        var predictions = new List<double>();
        var labels = new List<float>();
        foreach (var (k, (metrics, matrix, foldLabels, scores)) in measured.Index())
        {
            perFold.Add(metrics);
            predictions.AddRange(scores);
            labels.AddRange(foldLabels);
            if (matrix is null || (Folds > 1 && k >= Folds)) continue;
            confusion ??= [.. matrix.Select(r => new long[r.Length])];
            for (var i = 0; i < matrix.Length; i++)
            {
                for (var j = 0; j < matrix.Length; j++) confusion[i][j] += matrix[i][j];
            }
        }
        return new Evaluation(Average(perFold), confusion, averaged, kept, perFold.Count, [.. predictions], [.. labels], perFold);
    }

    /// <summary>A model's metrics on split <paramref name="k"/>'s test rows (LightGBM: with its first <paramref name="iterations"/> iterations, all when -1).</summary>
    private (Dictionary<string, double> Metrics, long[][]? Confusion, float[] Labels, double[] Scores) Measure(int k, TrainedModel model, int iterations)
    {
        var test = _splits[k].Test;
        var labels = TrainedModel.Labels(test, Task, Classes);
        var scores = model.Score(test, iterations);
        var (metrics, confusion) = ModelMetrics.Compute(Task, labels, scores, Classes.Count);
        return (metrics, confusion, labels, scores);
    }

    /// <summary>A model's scores of every row of the dataset (laid out as <see cref="ModelMetrics.Width"/> says).</summary>
    public double[] ScoreAll(TrainedModel model) => model.Score(_data);

    /// <summary>Fits a configuration on every row (after cross-validation).</summary>
    /// <param name="iterations">Boosting iterations instead of the options' (the best iteration early stopping found).</param>
    public TrainedModel FitFinal(TrainOptions options, IProgress<string>? progress, CancellationToken ct, int? iterations = null)
    {
        progress?.Report($"fitting the final model on all {Rows:N0} rows");
        return Fit(-1, options, "final", iterations, progress, false, ct).Model;
    }

    /// <summary>Permutation importance of a model: on the holdout rows, or (cross-validation) on the first rows, which the model saw.</summary>
    /// <param name="allowance">About how long it may take (fewer rows are scored for a slow model); no limit when null.</param>
    public IReadOnlyDictionary<string, double> Importance(TrainedModel model, TimeSpan? allowance = null) =>
        FeatureImportance.Compute(_ml, model, Folds > 1 ? _data : _splits[0].Test, Features, _seed, allowance);

    /// <summary>The values of each one-hot encoded column, so that serving can refuse values the model never saw.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Categories() => TrainingData.Categories(_parquet, Features, _tempDirectory);

    public void Dispose() => File.Delete(_csv);

    private static Dictionary<string, double> Average(List<Dictionary<string, double>> perFold)
    {
        // A fold without one of the classes has no AUC: average what the folds could measure.
        var averaged = new Dictionary<string, double>();
        foreach (var key in perFold[0].Keys)
        {
            var values = perFold.Select(m => m[key]).Where(double.IsFinite).ToList();
            if (values.Count > 0) averaged[key] = values.Average();
        }
        return averaged;
    }

    /// <summary>Fits on split <paramref name="split"/>'s training rows (validating on its test rows), or on every row when -1.</summary>
    private (TrainedModel Model, LearningCurve? Curve) Fit(int split, TrainOptions options, string step, int? iterations, IProgress<string>? progress,
        bool keepAllIterations, CancellationToken ct, CancellationToken stop = default)
    {
        var train = split < 0 ? _data : _splits[split].Train;
        if (options.Trainer != "lightgbm")
        {
            // A context of its own: the fit depends on its configuration only (not on what ran before it), fits may
            // run side by side, and a cancel stops this one alone.
            var ml = new MLContext(options.Seed);
            var pipeline = MlCancellation.Run(ml, () => Featurize(ml, Features, Task, options.Trainer, Classes).Append(Trainer(ml, Task, options)).Fit(train), ct);
            return (new TrainedModel(pipeline, train.Schema, null, Task, Classes), null);
        }
        // LightGBM: ML.NET featurizes (once per split and encoding, whatever the hyperparameters), Stratus boosts
        // natively one iteration at a time.
        var (featurizer, x, y, validX, validY) = LightGbmData(split, options.NativeCategories);
        var gbm = new GbmOptions
        {
            Iterations = iterations ?? options.Iterations,
            LearningRate = options.LearningRate ?? 0.1,
            Leaves = options.Leaves ?? 31,
            MinDataInLeaf = options.MinDataInLeaf ?? 20,
            FeatureFraction = options.FeatureFraction ?? 1,
            BaggingFraction = options.BaggingFraction ?? 1,
            L2 = options.L2 ?? 0,
            Seed = options.Seed,
            EarlyStoppingRounds = options.EarlyStoppingRounds,
            KeepAllIterations = keepAllIterations,
            RandomForest = options.RandomForest,
            ExtraTrees = options.ExtraTrees,
            TrainMetrics = options.TrainingCurve,
            // Native categories come first in the feature vector, one code column each.
            CategoricalFeatures = options.NativeCategories ? [.. Enumerable.Range(0, Features.Count(IsCategorical))] : [],
        };
        var reported = TimeSpan.Zero;
        var (booster, curve) = GbmTrainer.Train(x, y, validX, validY, Task, Classes.Count, gbm, i =>
        {
            // The first iteration, about one a second, and the last: live progress without flooding the job log.
            if (i.Number != 1 && i.Number != i.Total && i.Elapsed - reported < TimeSpan.FromSeconds(1)) return;
            reported = i.Elapsed;
            var metrics = i.Valid is { } v ? ", valid " + Format(v) : i.Train is { } t ? ", train " + Format(t) : "";
            progress?.Report($"{step}: iteration {i.Number}/{i.Total}{metrics} ({i.Elapsed.TotalSeconds:F1} s)");
        }, ct, stop);
        return (new TrainedModel(featurizer, train.Schema, booster, Task, Classes), curve);
    }

    private (ITransformer Featurizer, SparseRows X, float[] Y, SparseRows? ValidX, float[]? ValidY) LightGbmData(int split, bool nativeCategories)
    {
        lock (_lightGbmData)
        {
            if (_lightGbmData.TryGetValue((split, nativeCategories), out var cached)) return cached;
            var train = split < 0 ? _data : _splits[split].Train;
            // Codes for the most frequent categories: LightGBM's categorical splits have no use for thousands of rare ones.
            var codes = nativeCategories ? _categoryCodes ??= TrainingData.FrequentValues(_parquet, Features.Where(IsCategorical), _tempDirectory, 1000) : null;
            var featurizer = Featurize(_ml, Features, Task, "lightgbm", Classes, codes).Fit(train);
            var (x, y) = SparseRows.ReadWithLabels(featurizer.Transform(train), Task, Classes);
            var (validX, validY) = split < 0 ? (null, null) : SparseRows.ReadWithLabels(featurizer.Transform(_splits[split].Test), Task, Classes);
            return _lightGbmData[(split, nativeCategories)] = (featurizer, x, y, validX, validY);
        }
    }

    private static bool IsCategorical(FeatureColumn f) => f.Kind is FeatureKind.Categorical or FeatureKind.HighCardinality;

    private static string Format(IReadOnlyDictionary<string, double> metrics) =>
        string.Join(", ", metrics.Select(m => $"{m.Key} {m.Value.ToString("F4", CultureInfo.InvariantCulture)}"));

    private static IEstimator<ITransformer> Featurize(MLContext ml, IReadOnlyList<FeatureColumn> features, MlTask task, string trainer, IReadOnlyList<string> classes,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? categoryCodes = null)
    {
        var nativeCategories = categoryCodes is not null;
        // ML.NET's multiclass trainers read the label as a key; keyed in class order, their scores come out in that order.
        IEstimator<ITransformer> chain = task == MlTask.MulticlassClassification && trainer != "lightgbm"
            ? ml.Transforms.Conversion.MapValueToKey(TrainingData.LabelColumn, keyData: ml.Data.LoadFromEnumerable(classes.Select(c => new ClassRow { Value = c })))
            : new EstimatorChain<ITransformer>();
        var parts = new List<string>();
        if (nativeCategories)
        {
            // One column of codes per categorical column, first in the vector: 1 for the most frequent value, 2 for the
            // next, ...; a value without a code (never seen, or too rare) is missing to LightGBM.
            foreach (var f in features.Where(IsCategorical))
            {
                var output = $"f_{parts.Count}";
                var codes = categoryCodes![f.Name].Select((v, i) => new KeyValuePair<ReadOnlyMemory<char>, float>(v.AsMemory(), i + 1));
                chain = chain.Append(ml.Transforms.Conversion.MapValue(output, codes, f.Column));
                parts.Add(output);
            }
        }
        foreach (var f in features)
        {
            var output = $"f_{parts.Count}";
            switch (f.Kind)
            {
                case FeatureKind.Categorical or FeatureKind.HighCardinality when nativeCategories:
                    break;
                case FeatureKind.Numeric when trainer == "lightgbm":
                    // LightGBM learns where missing values go at each split: NaN stays NaN.
                    parts.Add(f.Column);
                    break;
                case FeatureKind.Numeric:
                    break; // below, all at once
                case FeatureKind.Categorical:
                    chain = chain.Append(ml.Transforms.Categorical.OneHotEncoding(output, f.Column));
                    parts.Add(output);
                    break;
                case FeatureKind.HighCardinality:
                    chain = chain.Append(ml.Transforms.Categorical.OneHotHashEncoding(output, f.Column, numberOfBits: 12));
                    parts.Add(output);
                    break;
                case FeatureKind.Text:
                    chain = chain.Append(ml.Transforms.Text.FeaturizeText(output, f.Column));
                    parts.Add(output);
                    break;
            }
        }
        var numbers = features.Where(f => f.Kind == FeatureKind.Numeric).Select(f => f.Column).ToArray();
        if (trainer != "lightgbm" && numbers.Length > 0)
        {
            // Every number in one vector: a few transforms whatever the width (three per column made a 60-column
            // dataset take seconds to fit, each transform being fitted through all those before it). The indicators
            // let these trainers learn from missingness itself.
            chain = chain.Append(ml.Transforms.Concatenate("__numbers", numbers))
                .Append(ml.Transforms.IndicateMissingValues("__missing", "__numbers"))
                .Append(ml.Transforms.Conversion.ConvertType("__missing", outputKind: DataKind.Single))
                .Append(ml.Transforms.ReplaceMissingValues("__numbers"));
            parts.Add("__numbers");
            parts.Add("__missing");
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
            (MlTask.BinaryClassification, "sdca") => ml.BinaryClassification.Trainers.SdcaLogisticRegression(label, l2Regularization: (float?)o.L2, maximumNumberOfIterations: o.Iterations),
            (MlTask.BinaryClassification, "lbfgs") => ml.BinaryClassification.Trainers.LbfgsLogisticRegression(label, l1Regularization: 0, l2Regularization: (float)(o.L2 ?? 1)),
            (MlTask.MulticlassClassification, "fasttree") => ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastTree(numberOfTrees: o.Iterations, numberOfLeaves: o.Leaves ?? 20), label)
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")),
            (MlTask.MulticlassClassification, "fastforest") => ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastForest(numberOfTrees: o.Iterations, numberOfLeaves: o.Leaves ?? 20), label)
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")),
            (MlTask.MulticlassClassification, "sdca") => ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(label, l2Regularization: (float?)o.L2, maximumNumberOfIterations: o.Iterations)
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")),
            (MlTask.MulticlassClassification, _) => ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(label, l1Regularization: 0, l2Regularization: (float)(o.L2 ?? 1))
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")),
            (MlTask.Regression, "fasttree") => ml.Regression.Trainers.FastTree(label, numberOfTrees: o.Iterations, numberOfLeaves: o.Leaves ?? 20, learningRate: o.LearningRate ?? 0.2),
            (MlTask.Regression, "fastforest") => ml.Regression.Trainers.FastForest(label, numberOfTrees: o.Iterations, numberOfLeaves: o.Leaves ?? 20),
            _ => ml.Regression.Trainers.Sdca(label, l2Regularization: (float?)o.L2, maximumNumberOfIterations: o.Iterations),
        };
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
