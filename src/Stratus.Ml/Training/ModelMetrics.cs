namespace Stratus.Ml.Training;

/// <summary>
/// Validation metrics computed from labels and scores, the same way for every trainer (and for ensembles of them):
/// binary AUC, PR-AUC (average precision), accuracy, F1 and log-loss; multiclass accuracy, macro accuracy and
/// log-loss; regression RMSE, MAE and R². Log-losses use natural logarithms, as LightGBM and scikit-learn do.
/// </summary>
public static class ModelMetrics
{
    private const double Epsilon = 1e-15;

    /// <summary>Scores per row: 1 for binary (p of the positive class) and regression, the class count for multiclass.</summary>
    public static int Width(MlTask task, int classes) => task == MlTask.MulticlassClassification ? classes : 1;

    /// <summary>
    /// Metrics of <paramref name="scores"/> against <paramref name="labels"/> (0/1 for binary, the class index for
    /// multiclass, the value for regression), and for classification the confusion matrix (rows: actual, columns: predicted).
    /// </summary>
    public static (Dictionary<string, double> Metrics, long[][]? Confusion) Compute(MlTask task, ReadOnlySpan<float> labels, ReadOnlySpan<double> scores, int classes)
    {
        return task switch
        {
            MlTask.BinaryClassification => Binary(labels, scores),
            MlTask.MulticlassClassification => Multiclass(labels, scores, classes),
            _ => (Regression(labels, scores), null),
        };
    }

    /// <summary>The headline metric of a task (<see cref="MetricCatalog.Primary"/>): AUC, accuracy or R².</summary>
    public static string Primary(MlTask task) => MetricCatalog.Primary(task.Name());

    private static (Dictionary<string, double>, long[][]) Binary(ReadOnlySpan<float> labels, ReadOnlySpan<double> p)
    {
        var n = labels.Length;
        long tp = 0, fp = 0, tn = 0, fn = 0;
        double logLoss = 0;
        for (var i = 0; i < n; i++)
        {
            var positive = labels[i] > 0.5f;
            var predicted = p[i] >= 0.5;
            if (positive) { if (predicted) tp++; else fn++; }
            else { if (predicted) fp++; else tn++; }
            logLoss -= Math.Log(Math.Clamp(positive ? p[i] : 1 - p[i], Epsilon, 1));
        }
        var precision = tp + fp == 0 ? 0 : (double)tp / (tp + fp);
        var recall = tp + fn == 0 ? 0 : (double)tp / (tp + fn);
        var (auc, prAuc) = RankMetrics(labels, p);
        var metrics = new Dictionary<string, double>
        {
            ["auc"] = auc,
            ["pr_auc"] = prAuc,
            ["accuracy"] = n == 0 ? double.NaN : (double)(tp + tn) / n,
            ["f1"] = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall),
            ["log_loss"] = n == 0 ? double.NaN : logLoss / n,
        };
        return (metrics, [[tn, fp], [fn, tp]]);
    }

    /// <summary>ROC AUC (the Mann-Whitney statistic, ties counted half) and average precision; NaN when one class is absent.</summary>
    private static (double Auc, double AveragePrecision) RankMetrics(ReadOnlySpan<float> labels, ReadOnlySpan<double> p)
    {
        var n = labels.Length;
        var order = new int[n];
        for (var i = 0; i < n; i++) order[i] = i;
        var keys = p.ToArray();
        Array.Sort(keys, order); // ascending score
        long positives = 0;
        for (var i = 0; i < n; i++) if (labels[i] > 0.5f) positives++;
        var negatives = n - positives;
        if (positives == 0 || negatives == 0) return (double.NaN, double.NaN);

        // AUC from average ranks of tied groups.
        double rankSum = 0;
        for (var start = 0; start < n;)
        {
            var end = start;
            while (end + 1 < n && keys[end + 1] == keys[start]) end++;
            var rank = (start + end) / 2.0 + 1;
            for (var k = start; k <= end; k++) if (labels[order[k]] > 0.5f) rankSum += rank;
            start = end + 1;
        }
        var auc = (rankSum - positives * (positives + 1) / 2.0) / ((double)positives * negatives);

        // Average precision: walk thresholds from the highest score down, one step per distinct score.
        double ap = 0, previousRecall = 0;
        long tp = 0, seen = 0;
        for (var end = n - 1; end >= 0;)
        {
            var start = end;
            while (start - 1 >= 0 && keys[start - 1] == keys[end]) start--;
            for (var k = start; k <= end; k++) if (labels[order[k]] > 0.5f) tp++;
            seen += end - start + 1;
            var recall = (double)tp / positives;
            ap += (recall - previousRecall) * ((double)tp / seen);
            previousRecall = recall;
            end = start - 1;
        }
        return (auc, ap);
    }

    private static (Dictionary<string, double>, long[][]) Multiclass(ReadOnlySpan<float> labels, ReadOnlySpan<double> scores, int classes)
    {
        var n = labels.Length;
        var confusion = new long[classes][];
        for (var c = 0; c < classes; c++) confusion[c] = new long[classes];
        double logLoss = 0;
        for (var i = 0; i < n; i++)
        {
            var row = scores.Slice(i * classes, classes);
            var predicted = 0;
            for (var c = 1; c < classes; c++) if (row[c] > row[predicted]) predicted = c;
            var actual = (int)labels[i];
            confusion[actual][predicted]++;
            logLoss -= Math.Log(Math.Clamp(row[actual], Epsilon, 1));
        }
        long correct = 0;
        double recallSum = 0;
        var present = 0;
        for (var c = 0; c < classes; c++)
        {
            correct += confusion[c][c];
            var total = confusion[c].Sum();
            if (total == 0) continue;
            recallSum += (double)confusion[c][c] / total;
            present++;
        }
        var metrics = new Dictionary<string, double>
        {
            ["accuracy"] = n == 0 ? double.NaN : (double)correct / n,
            ["macro_accuracy"] = present == 0 ? double.NaN : recallSum / present,
            ["log_loss"] = n == 0 ? double.NaN : logLoss / n,
        };
        return (metrics, confusion);
    }

    private static Dictionary<string, double> Regression(ReadOnlySpan<float> labels, ReadOnlySpan<double> predicted)
    {
        var n = labels.Length;
        double mean = 0;
        for (var i = 0; i < n; i++) mean += labels[i];
        mean /= n;
        double squared = 0, absolute = 0, total = 0;
        for (var i = 0; i < n; i++)
        {
            var error = labels[i] - predicted[i];
            squared += error * error;
            absolute += Math.Abs(error);
            total += (labels[i] - mean) * (labels[i] - mean);
        }
        return new Dictionary<string, double>
        {
            ["rmse"] = Math.Sqrt(squared / n),
            ["mae"] = absolute / n,
            ["r2"] = total == 0 ? double.NaN : 1 - squared / total,
        };
    }
}
