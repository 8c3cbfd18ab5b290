using Microsoft.ML;
using Microsoft.ML.Data;
using Stratus.Ml.Inference;

namespace Stratus.Ml.Training;

/// <summary>
/// Permutation feature importance per source column: how much the validation metric drops when that column's values
/// are shuffled across rows (date parts move together). Model-agnostic, so every trainer gets the same measure.
/// </summary>
internal static class FeatureImportance
{
    /// <summary>Rows scored per permutation; enough for a stable ranking, cheap enough to run after every training.</summary>
    public const int SampleRows = 2000;

    public static IReadOnlyDictionary<string, double> Compute(MLContext ml, ITransformer model, IDataView data, IReadOnlyList<FeatureColumn> features, MlTask task, int seed)
    {
        var sample = ml.Data.TakeRows(data, SampleRows);
        var schema = sample.Schema;
        var columns = new Array[schema.Count];
        for (var c = 0; c < schema.Count; c++)
        {
            columns[c] = schema[c].Type switch
            {
                BooleanDataViewType => sample.GetColumn<bool>(schema[c]).ToArray(),
                TextDataViewType => sample.GetColumn<ReadOnlyMemory<char>>(schema[c]).Select(v => v.ToString()).ToArray(),
                _ => sample.GetColumn<float>(schema[c]).ToArray(),
            };
        }
        var rows = columns.Length == 0 ? 0 : columns[0].Length;
        if (rows < 10) return new Dictionary<string, double>();

        var baseline = Score(ml, model, new RowsDataView(schema, columns, rows), task);
        var random = new Random(seed);
        var importance = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var source in features.GroupBy(f => f.SourceColumn))
        {
            var order = Enumerable.Range(0, rows).ToArray();
            random.Shuffle(order);
            var permuted = (Array[])columns.Clone();
            foreach (var f in source)
            {
                var index = schema[f.Name].Index;
                var original = columns[index];
                var copy = Array.CreateInstance(original.GetType().GetElementType()!, rows);
                for (var r = 0; r < rows; r++) copy.SetValue(original.GetValue(order[r]), r);
                permuted[index] = copy;
            }
            importance[source.Key] = baseline - Score(ml, model, new RowsDataView(schema, permuted, rows), task);
        }
        return importance.OrderByDescending(kv => kv.Value).ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    private static double Score(MLContext ml, ITransformer model, IDataView data, MlTask task)
    {
        var scored = model.Transform(data);
        return task switch
        {
            MlTask.BinaryClassification => ml.BinaryClassification.Evaluate(scored, TrainingData.LabelColumn).AreaUnderRocCurve,
            MlTask.MulticlassClassification => ml.MulticlassClassification.Evaluate(scored, TrainingData.LabelColumn).MicroAccuracy,
            _ => ml.Regression.Evaluate(scored, TrainingData.LabelColumn).RSquared,
        };
    }
}
