namespace Stratus;

/// <summary>A metric Stratus reports: its name, the tasks it applies to, and which way is better.</summary>
/// <param name="Tasks">The tasks it applies to: <c>binary</c>, <c>multiclass</c>, <c>regression</c>.</param>
/// <param name="Validation">Whether validation reports it (and AutoML, policies and rollouts may judge by it); false for one only a training curve shows.</param>
public sealed record MetricInfo(string Name, IReadOnlyList<string> Tasks, bool HigherIsBetter, bool Validation, string Description);

/// <summary>
/// The one list of metrics: which apply to which task, which way is better, which a search maximizes by default. The
/// trainers, AutoML, policies, rollouts, the CLI and reports all ask here, so they cannot disagree on a direction.
/// </summary>
public static class MetricCatalog
{
    private const string Binary = "binary", Multiclass = "multiclass", Regression = "regression";

    public static readonly IReadOnlyList<MetricInfo> All =
    [
        new("auc", [Binary], true, true, "area under the ROC curve"),
        new("pr_auc", [Binary], true, true, "area under the precision-recall curve (average precision)"),
        new("accuracy", [Binary, Multiclass], true, true, "share of rows predicted right"),
        new("f1", [Binary], true, true, "harmonic mean of precision and recall at 0.5"),
        new("macro_accuracy", [Multiclass], true, true, "mean recall over the classes"),
        new("log_loss", [Binary, Multiclass], false, true, "mean negative log-likelihood (natural logarithm)"),
        new("rmse", [Regression], false, true, "root mean squared error"),
        new("mae", [Regression], false, true, "mean absolute error"),
        new("r2", [Regression], true, true, "coefficient of determination"),
        new("error", [Multiclass], false, false, "share of rows predicted wrong (LightGBM's multi_error, on training curves)"),
    ];

    /// <summary>The metric of that name; null when there is none.</summary>
    public static MetricInfo? Find(string name) => All.FirstOrDefault(m => m.Name == name);

    /// <summary>Whether a larger value of <paramref name="metric"/> is better (true for a name the catalog does not know).</summary>
    public static bool HigherIsBetter(string metric) => Find(metric)?.HigherIsBetter ?? true;

    /// <summary>The validation metrics of a task (<c>binary</c>, <c>multiclass</c>, <c>regression</c>), in the catalog's order.</summary>
    public static IReadOnlyList<string> For(string task) => [.. All.Where(m => m.Validation && m.Tasks.Contains(task)).Select(m => m.Name)];

    /// <summary>Whether <paramref name="metric"/> is a validation metric of <paramref name="task"/>.</summary>
    public static bool Fits(string metric, string task) => Find(metric) is { Validation: true } m && m.Tasks.Contains(task);

    /// <summary>Whether any task reports <paramref name="metric"/> on validation.</summary>
    public static bool IsValidation(string metric) => Find(metric) is { Validation: true };

    /// <summary>The headline metric of a task, which reports show and a permutation test measures: AUC, accuracy or R².</summary>
    public static string Primary(string task) => task switch
    {
        Binary => "auc",
        Multiclass => "accuracy",
        _ => "r2",
    };

    /// <summary>What AutoML maximizes unless told otherwise: AUC, log-loss (accuracy saturates on many classes) or R².</summary>
    public static string SearchDefault(string task) => task switch
    {
        Binary => "auc",
        Multiclass => "log_loss",
        _ => "r2",
    };

    /// <summary>The catalog's name for a user's spelling (<c>logloss</c> is <c>log_loss</c>, <c>prauc</c> is <c>pr_auc</c>).</summary>
    public static string Normalize(string metric) => metric.ToLowerInvariant() switch
    {
        "logloss" or "log-loss" => "log_loss",
        "prauc" or "pr-auc" => "pr_auc",
        "macro-accuracy" => "macro_accuracy",
        var m => m,
    };
}
