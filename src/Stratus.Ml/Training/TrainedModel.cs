using Microsoft.ML;
using Microsoft.ML.Data;
using Stratus.Ml.Training.Gbm;

namespace Stratus.Ml.Training;

/// <summary>
/// A trained model: an ML.NET pipeline over the model's input columns and, for LightGBM, the native booster that
/// scores the pipeline's <c>Features</c> vector. Both kinds score the same way, so evaluation, permutation
/// importance, packages and serving treat every trainer alike.
/// </summary>
public sealed class TrainedModel(ITransformer pipeline, DataViewSchema inputSchema, GbmModel? booster, MlTask task, IReadOnlyList<string> classes)
{
    /// <summary>The ML.NET pipeline: featurization, and for ML.NET trainers the trainer itself.</summary>
    public ITransformer Pipeline { get; } = pipeline;

    /// <summary>The columns the pipeline reads.</summary>
    public DataViewSchema InputSchema { get; } = inputSchema;

    /// <summary>The LightGBM booster scoring the pipeline's features, when the trainer is LightGBM.</summary>
    public GbmModel? Booster { get; } = booster;

    public MlTask Task { get; } = task;

    /// <summary>Class labels in score order (binary: negative, positive); empty for regression.</summary>
    public IReadOnlyList<string> Classes { get; } = classes;

    /// <summary>Scores per row: see <see cref="ModelMetrics.Width"/>.</summary>
    public int Width => ModelMetrics.Width(Task, Classes.Count);

    /// <summary>
    /// Scores every row of <paramref name="input"/>: the positive class's probability (binary), one probability per
    /// class in <see cref="Classes"/> order (multiclass, row after row), or the predicted value (regression).
    /// </summary>
    public double[] Score(IDataView input)
    {
        var transformed = Pipeline.Transform(input);
        if (Booster is { } booster) return booster.Predict(SparseRows.Read(transformed));
        return Task switch
        {
            MlTask.BinaryClassification => [.. transformed.GetColumn<float>("Probability").Select(p => (double)p)],
            MlTask.MulticlassClassification => [.. transformed.GetColumn<float[]>("Score").SelectMany(s => s.Select(p => (double)p))],
            _ => [.. transformed.GetColumn<float>("Score").Select(v => (double)v)],
        };
    }

    /// <summary>
    /// The <see cref="TrainingData.LabelColumn"/> of every row as <see cref="ModelMetrics"/> reads it: 0/1 (binary),
    /// the index in <paramref name="classes"/> (multiclass; -1 for a class not in the list), or the value.
    /// </summary>
    public static float[] Labels(IDataView view, MlTask task, IReadOnlyList<string> classes)
    {
        var labels = new List<float>();
        using var cursor = view.GetRowCursor([view.Schema[TrainingData.LabelColumn]]);
        var read = LabelReader(cursor, task, classes);
        while (cursor.MoveNext()) labels.Add(read());
        return [.. labels];
    }

    /// <summary>Reads the label of the cursor's current row, encoded as <see cref="Labels"/> does.</summary>
    internal static Func<float> LabelReader(DataViewRowCursor cursor, MlTask task, IReadOnlyList<string> classes)
    {
        var column = cursor.Schema[TrainingData.LabelColumn];
        switch (task)
        {
            case MlTask.BinaryClassification:
            {
                var getter = cursor.GetGetter<bool>(column);
                return () =>
                {
                    var value = false;
                    getter(ref value);
                    return value ? 1f : 0f;
                };
            }
            case MlTask.MulticlassClassification:
            {
                var getter = cursor.GetGetter<ReadOnlyMemory<char>>(column);
                var index = classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
                return () =>
                {
                    ReadOnlyMemory<char> value = default;
                    getter(ref value);
                    return index.TryGetValue(value.ToString(), out var i) ? i : -1f;
                };
            }
            default:
            {
                var getter = cursor.GetGetter<float>(column);
                return () =>
                {
                    var value = 0f;
                    getter(ref value);
                    return value;
                };
            }
        }
    }
}
