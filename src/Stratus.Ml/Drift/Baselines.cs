using Stratus.Ml.Data;
using Stratus.Ml.Training;

namespace Stratus.Ml.Drift;

/// <summary>Builds the baseline a model version keeps: its inputs on the training data, its predictions on validation rows.</summary>
public static class Baselines
{
    /// <summary>The name under which predictions are judged, beside the input columns.</summary>
    public const string Prediction = "prediction";

    /// <summary>How drift sees a column of this DuckDB type: <c>numeric</c> or <c>categorical</c>.</summary>
    public static string KindOf(string type) => DuckDb.IsNumeric(type) ? DriftSketches.Numeric : DriftSketches.Categorical;

    /// <summary>
    /// What drift compares of a model's predictions: the positive class's probability (binary), the predicted label
    /// (multiclass) or the value (regression).
    /// </summary>
    public static string PredictionKind(string task) => task == "multiclass" ? DriftSketches.Categorical : DriftSketches.Numeric;

    /// <summary>The sketch of scores laid out as <see cref="ModelMetrics.Width"/> says.</summary>
    public static DistributionSketch OfScores(MlTask task, IReadOnlyList<string> classes, double[] scores)
    {
        if (task != MlTask.MulticlassClassification) return DriftSketches.OfNumbers(scores);
        var width = classes.Count;
        return DriftSketches.OfCategories(Enumerable.Range(0, scores.Length / width).Select(r =>
        {
            var row = scores.AsSpan(r * width, width);
            return classes[row.IndexOf(MaxOf(row))];
        }));
    }

    private static double MaxOf(ReadOnlySpan<double> values)
    {
        var max = double.NegativeInfinity;
        foreach (var v in values) max = Math.Max(max, v);
        return max;
    }

    /// <summary>Sketches a model's input columns in a stored Parquet dataset.</summary>
    public static Dictionary<string, DistributionSketch> OfDataset(string parquet, IReadOnlyList<ModelInput> inputs, string tempDirectory)
    {
        using var connection = DuckDb.Open(tempDirectory);
        var sql = SqlColumns.OfParquet(parquet);
        var columns = inputs.Select(i => new SketchColumn(i.Name, KindOf(i.Type),
            sql[i.Name] + (KindOf(i.Type) == DriftSketches.Numeric ? "::DOUBLE" : "::VARCHAR"))).ToList();
        return DriftSketches.Compute(connection, sql.ScanParquet(parquet), columns);
    }
}
