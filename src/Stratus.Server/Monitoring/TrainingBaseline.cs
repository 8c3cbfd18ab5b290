using Stratus.Ml.Drift;
using Stratus.Ml.Training;

namespace Stratus.Server.Monitoring;

/// <summary>
/// The baseline a training run leaves for monitoring (kept at <see cref="Tracking.RunArtifactLayout.Baseline"/>;
/// <see cref="MonitoringService.BaselineAsync"/> prefers one set from a dataset): the model's inputs on the training
/// dataset, and its predictions on the rows it was validated on.
/// </summary>
public static class TrainingBaseline
{
    public static ModelBaseline Of(TrainResult result, ModelManifest manifest, string parquet, string dataset, string scratch, DateTimeOffset now)
    {
        var features = Baselines.OfDataset(parquet, manifest.Inputs, scratch);
        var prediction = result.ValidationScores is { Length: > 0 } scores ? Baselines.OfScores(result.Task, result.Classes, scores) : null;
        var predictions = result.Validation.StartsWith("holdout", StringComparison.Ordinal) ? "its holdout rows" : "all its rows (cross-validation leaves none unseen)";
        return new ModelBaseline($"inputs: {dataset}; predictions: the model's on {predictions}", features.Values.Select(f => f.Count + f.Missing).DefaultIfEmpty().Max(),
            features, prediction, result.Metrics, now);
    }
}
