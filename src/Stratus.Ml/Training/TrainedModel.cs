using System.Collections.Concurrent;
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
    /// <summary>
    /// An ensemble: the weighted average of its members' scores (probabilities for classification, values for
    /// regression). The members read the same input columns and score classes in the same order.
    /// </summary>
    public static TrainedModel Ensemble(IReadOnlyList<(TrainedModel Model, EnsembleMember Info)> members)
    {
        var first = members[0].Model;
        return new TrainedModel(first.Pipeline, first.InputSchema, null, first.Task, first.Classes) { Members = members };
    }

    /// <summary>An ensemble's members, each with its trainer, parameters and weight; empty for a single model.</summary>
    public IReadOnlyList<(TrainedModel Model, EnsembleMember Info)> Members { get; private init; } = [];

    /// <summary>The ML.NET pipeline: featurization, and for ML.NET trainers the trainer itself (an ensemble's: its first member's).</summary>
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
    public double[] Score(IDataView input) => Score(input, -1);

    /// <param name="iterations">LightGBM: score with the first this many boosting iterations (all when -1).</param>
    internal double[] Score(IDataView input, int iterations)
    {
        if (Members.Count > 0) return Average(Members.Select(m => (m.Model.Score(input), m.Info.Weight)));
        var transformed = Pipeline.Transform(input);
        if (Booster is { } booster) return booster.Predict(SparseRows.Read(transformed), iterations);
        return Task switch
        {
            MlTask.BinaryClassification => [.. transformed.GetColumn<float>("Probability").Select(p => (double)p)],
            MlTask.MulticlassClassification => [.. transformed.GetColumn<float[]>("Score").SelectMany(s => s.Select(p => (double)p))],
            _ => [.. transformed.GetColumn<float>("Score").Select(v => (double)v)],
        };
    }

    /// <summary>
    /// Scores rows held as columns (one array per <see cref="InputSchema"/> column, as <c>RowsDataView</c> holds them)
    /// through a reusable row mapper: the path for real-time requests, where building an ML.NET transform per call
    /// would cost far more than the model. Same outputs as <see cref="Score(IDataView)"/>; safe to call concurrently.
    /// </summary>
    public double[] Score(Array[] columns, int rows)
    {
        if (Members.Count > 0) return Average(Members.Select(m => (m.Model.Score(columns, rows), m.Info.Weight)));
        if (!_engines.TryTake(out var engine)) engine = new RowEngine(this);
        try
        {
            return engine.Score(columns, rows);
        }
        finally
        {
            _engines.Add(engine);
        }
    }

    private readonly ConcurrentBag<RowEngine> _engines = [];

    /// <summary>The weighted average of score arrays of one layout.</summary>
    internal static double[] Average(IEnumerable<(double[] Scores, double Weight)> scored)
    {
        double[]? sum = null;
        var total = 0.0;
        foreach (var (scores, weight) in scored)
        {
            sum ??= new double[scores.Length];
            for (var i = 0; i < scores.Length; i++) sum[i] += weight * scores[i];
            total += weight;
        }
        for (var i = 0; i < sum!.Length; i++) sum[i] /= total;
        return sum;
    }

    /// <summary>One input row, one mapped output row, and their getters: built once, reused for every row scored (one thread at a time).</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Lives as long as its model; the rows hold managed memory only.")]
    private sealed class RowEngine
    {
        private readonly TrainedModel _model;
        private readonly InputRow _input;
        private readonly ValueGetter<VBuffer<float>>? _features;
        private readonly ValueGetter<float>? _value;
        private readonly ValueGetter<VBuffer<float>>? _scores;

        public RowEngine(TrainedModel model)
        {
            _model = model;
            _input = new InputRow(model.InputSchema);
            var mapper = model.Pipeline.GetRowToRowMapper(model.InputSchema);
            var schema = mapper.OutputSchema;
            var name = model.Booster is not null ? "Features" : model.Task == MlTask.BinaryClassification ? "Probability" : "Score";
            var column = schema[name];
            var output = mapper.GetRow(_input, [column]);
            if (model.Booster is not null) _features = output.GetGetter<VBuffer<float>>(column);
            else if (model.Task == MlTask.MulticlassClassification) _scores = output.GetGetter<VBuffer<float>>(column);
            else _value = output.GetGetter<float>(column);
        }

        public double[] Score(Array[] columns, int rows)
        {
            _input.Columns = columns;
            if (_features is not null)
            {
                var vectors = new VBuffer<float>[rows];
                for (var r = 0; r < rows; r++)
                {
                    _input.Next(r);
                    _features(ref vectors[r]);
                }
                return _model.Booster!.Predict(SparseRows.From(vectors));
            }
            var width = _model.Width;
            var result = new double[rows * width];
            VBuffer<float> scores = default;
            float value = 0;
            for (var r = 0; r < rows; r++)
            {
                _input.Next(r);
                if (_scores is not null)
                {
                    _scores(ref scores);
                    var dense = scores.DenseValues().GetEnumerator();
                    for (var k = 0; k < width && dense.MoveNext(); k++) result[r * width + k] = dense.Current;
                }
                else
                {
                    _value!(ref value);
                    result[r] = value;
                }
            }
            return result;
        }
    }

    /// <summary>
    /// A row over column arrays whose current index moves. Its position grows with every row, never repeating: ML.NET
    /// getters cache by position.
    /// </summary>
    private sealed class InputRow(DataViewSchema schema) : DataViewRow
    {
        private long _position = -1;
        private int _index;

        public Array[] Columns { get; set; } = [];

        public void Next(int index)
        {
            _index = index;
            _position++;
        }

        public override DataViewSchema Schema => schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool IsColumnActive(DataViewSchema.Column column) => true;

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            var index = column.Index;
            Delegate getter = column.Type switch
            {
                BooleanDataViewType => (ValueGetter<bool>)((ref bool v) => v = ((bool[])Columns[index])[_index]),
                TextDataViewType => (ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> v) => v = ((string[])Columns[index])[_index].AsMemory()),
                _ => (ValueGetter<float>)((ref float v) => v = ((float[])Columns[index])[_index]),
            };
            return (ValueGetter<TValue>)getter;
        }
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
