namespace Stratus.Server.Tracking;

/// <summary>
/// Where a run keeps what Stratus itself writes there (one home for the layout: training writes these, the registry,
/// monitoring and the console read them). A user's own artifacts may go anywhere else.
/// </summary>
public static class RunArtifactLayout
{
    /// <summary>The model package (a servable version points at it).</summary>
    public const string Package = "model/package.zip";

    /// <summary>The model's baseline for monitoring (<see cref="ModelBaseline"/>): its inputs on the training data, its predictions on validation rows.</summary>
    public const string Baseline = "model/baseline.json";

    /// <summary>The permutation feature importance.</summary>
    public const string Importance = "feature_importance.json";

    /// <summary>A classifier's validation confusion matrix.</summary>
    public const string Confusion = "confusion_matrix.json";

    /// <summary>An AutoML search's leaderboard.</summary>
    public const string Leaderboard = "leaderboard.json";
}
