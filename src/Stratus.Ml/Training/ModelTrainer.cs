using System.Diagnostics;
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

    /// <summary>
    /// Cross-validation repeated on this many different splits (a seed each), the scores averaged: a steadier measure on
    /// small data, where one split's luck decides between close configurations. Default: 1.
    /// </summary>
    public int Repeats { get; init; } = 1;

    /// <summary>Trees (boosting iterations) of tree trainers; epochs of linear ones. Default: 100.</summary>
    public int Iterations { get; init; } = 100;

    /// <summary>Learning rate of boosted trees. Default: trainer's own.</summary>
    public double? LearningRate { get; init; }

    /// <summary>Leaves per tree. Default: trainer's own.</summary>
    public int? Leaves { get; init; }

    /// <summary>LightGBM: fewest rows in a leaf (default 20).</summary>
    public int? MinDataInLeaf { get; init; }

    /// <summary>LightGBM: share of features each tree may use (default 1).</summary>
    public double? FeatureFraction { get; init; }

    /// <summary>LightGBM: share of rows each tree is grown on (default 1).</summary>
    public double? BaggingFraction { get; init; }

    /// <summary>L2 regularization: of LightGBM's leaf values (default 0), of the linear models' weights (lbfgs: 1, without L1; sdca: its own choice).</summary>
    public double? L2 { get; init; }

    /// <summary>LightGBM: stop when the validation metric has not improved for this many iterations (0: never).</summary>
    public int EarlyStoppingRounds { get; init; }

    /// <summary>
    /// LightGBM: each categorical column becomes one column of category codes that LightGBM splits on natively
    /// (groups of categories per split) instead of one-hot (or hashed) indicator columns.
    /// </summary>
    public bool NativeCategories { get; init; }

    /// <summary>
    /// LightGBM: a random forest instead of boosting: every tree grown on a bootstrap-like sample of the rows
    /// (<see cref="BaggingFraction"/>, 0.632 when not set) and the trees averaged; the learning rate plays no part.
    /// </summary>
    public bool RandomForest { get; init; }

    /// <summary>LightGBM: extremely randomized trees: each split's threshold drawn at random per feature, not searched.</summary>
    public bool ExtraTrees { get; init; }

    /// <summary>LightGBM: measure the training rows too at every iteration (the learning curve's <c>train.*</c> series); AutoML's trials do without.</summary>
    public bool TrainingCurve { get; init; } = true;

    /// <summary>Columns to leave out of the features (identifiers, leaks).</summary>
    public IReadOnlyCollection<string> Exclude { get; init; } = [];
}

/// <summary>A trained model and how well it did on data it did not see.</summary>
/// <param name="ConfusionMatrix">Classification only: counts by actual (rows) and predicted (columns) class, in <see cref="Classes"/> order.</param>
/// <param name="Curve">LightGBM only: metrics per boosting iteration on the validation rows (averaged over folds) and the training rows.</param>
/// <param name="ValidationScores">
/// The kept model's scores, laid out as <see cref="ModelMetrics.Width"/> says, the reference for prediction drift: of
/// the holdout rows, or with cross-validation (which leaves no row unseen by the refitted model) of every row; the
/// folds' own out-of-fold scores came from models fitted on less data and differ from the kept model's by design.
/// </param>
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
    LearningCurve? Curve,
    double[]? ValidationScores = null);

/// <summary>Trains models on Stratus datasets: featurization from the profile, a trainer per task, validation and metrics.</summary>
public static class ModelTrainer
{
    /// <summary>What <see cref="TrainResult.ValidationScores"/> holds: the holdout's scores, or the refitted model's of every row.</summary>
    internal static double[] BaselineScores(TrainingSession session, TrainedModel model, double[] holdout) => session.Folds > 1 ? session.ScoreAll(model) : holdout;

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
        // No loss or metric is defined on NaN or an infinity.
        if (task == MlTask.Regression && target.NonFinite > 0)
        {
            throw new DataFormatException($"target column '{target.Name}' holds {target.NonFinite:N0} {(target.NonFinite == 1 ? "value that is" : "values that are")} NaN or infinite; a regression target must be a finite number " +
                "in every row (leave the cell empty for a missing value, or drop those rows)");
        }
        return (task, features);
    }

    /// <summary>Trains on a stored Parquet dataset whose profile is known.</summary>
    /// <exception cref="DataFormatException">The target, the features or the trainer do not fit; nothing was trained.</exception>
    /// <param name="progress">Receives a line per finished step (each fold, the final fit, the importance) and, for LightGBM, about one a second with the iteration and its validation metrics.</param>
    public static TrainResult Train(string parquet, IReadOnlyList<ColumnProfile> profile, TrainOptions options, string tempDirectory, IProgress<string>? progress = null, CancellationToken ct = default)
    {
        var started = Stopwatch.StartNew();
        using var session = TrainingSession.Open(parquet, profile, options, tempDirectory);
        ct.ThrowIfCancellationRequested();
        progress?.Report(session.Folds > 1
            ? $"{session.Validation} of {session.Rows:N0} rows"
            : $"fitting on 80% of {session.Rows:N0} rows, measuring on the other 20%");
        var evaluation = session.Evaluate(options, progress, null, ct);
        // Cross-validation measured models fitted on part of the data: the model kept is fitted on all of it.
        var model = evaluation.Model ?? session.FitFinal(options, progress, ct, options.EarlyStoppingRounds > 0 ? evaluation.Curve?.BestIteration : null);
        ct.ThrowIfCancellationRequested();
        var importance = session.Importance(model);
        return new TrainResult(model, session.Task, options.Trainer, session.Features, session.Classes, evaluation.Metrics, evaluation.Confusion,
            session.Validation, started.Elapsed, session.Categories(), importance, evaluation.Curve, BaselineScores(session, model, evaluation.Predictions));
    }
}
