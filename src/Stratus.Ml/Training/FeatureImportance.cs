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

    /// <param name="allowance">
    /// Time the whole measure may take (reading the rows included): fewer rows are scored when the model is too slow
    /// for it, and nothing is measured (an empty result) when even a few hundred rows would not fit, or when the
    /// scorings run a quarter over it after all (a loaded machine): the caller's budget holds whatever the model.
    /// </param>
    public static IReadOnlyDictionary<string, double> Compute(MLContext ml, TrainedModel model, IDataView data, IReadOnlyList<FeatureColumn> features, int seed,
        TimeSpan? allowance = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var sample = ml.Data.TakeRows(data, SampleRows);
        var schema = sample.Schema;
        var columns = Materialize(sample);
        var rows = columns.Length == 0 ? 0 : columns[0].Length;
        if (rows < 10 || clock.Elapsed > allowance) return new Dictionary<string, double>();

        var metric = ModelMetrics.Primary(model.Task);
        var sources = features.GroupBy(f => f.SourceColumn).ToList();
        if (allowance is { } limit && rows > MinimumRows)
        {
            // The time one scoring of a few hundred rows takes says how many rows one scoring per column (and the
            // baseline's) can afford, with a little room to spare (a scoring's fixed cost, counted in every row here,
            // leaves more).
            var trial = Slice(columns, MinimumRows);
            var timer = System.Diagnostics.Stopwatch.StartNew();
            model.Score(new RowsDataView(schema, trial, MinimumRows));
            var perRow = timer.Elapsed / MinimumRows;
            var affordable = (limit - clock.Elapsed) / (perRow * (sources.Count + 1) * 1.25);
            // A model slow at any size (an ensemble of many-class boosters): no measure rather than one that overruns
            // its allowance, which is the caller's time.
            if (affordable < MinimumRows) return new Dictionary<string, double>();
            if (affordable < rows)
            {
                rows = (int)affordable;
                columns = Slice(columns, rows);
            }
        }
        var labels = TrainedModel.Labels(new RowsDataView(schema, columns, rows), model.Task, model.Classes);
        double Score(IDataView view) => ModelMetrics.Compute(model.Task, labels, model.Score(view), model.Classes.Count).Metrics[metric];
        var baseline = Score(new RowsDataView(schema, columns, rows));
        if (!double.IsFinite(baseline)) return new Dictionary<string, double>(); // e.g. one class only in the sample
        var random = new Random(seed);
        var importance = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var source in sources)
        {
            if (clock.Elapsed > allowance * 1.25) return new Dictionary<string, double>();
            var order = Enumerable.Range(0, rows).ToArray();
            random.Shuffle(order);
            var permuted = (Array[])columns.Clone();
            foreach (var f in source)
            {
                var index = schema[f.Column].Index;
                var original = columns[index];
                var copy = Array.CreateInstance(original.GetType().GetElementType()!, rows);
                for (var r = 0; r < rows; r++) copy.SetValue(original.GetValue(order[r]), r);
                permuted[index] = copy;
            }
            importance[source.Key] = baseline - Score(new RowsDataView(schema, permuted, rows));
        }
        return importance.OrderByDescending(kv => kv.Value).ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    private const int MinimumRows = 200;

    private static Array[] Slice(Array[] columns, int rows) => [.. columns.Select(c => Slice(c, rows))];

    private static Array Slice(Array column, int rows)
    {
        var slice = Array.CreateInstance(column.GetType().GetElementType()!, rows);
        Array.Copy(column, slice, rows);
        return slice;
    }

    /// <summary>Reads the sample once, in one cursor pass, into arrays that <see cref="RowsDataView"/> serves.</summary>
    private static Array[] Materialize(IDataView sample)
    {
        var schema = sample.Schema;
        var lists = new List<object>[schema.Count];
        var readers = new Func<object>[schema.Count];
        using var cursor = sample.GetRowCursor(schema);
        for (var c = 0; c < schema.Count; c++)
        {
            lists[c] = [];
            var column = schema[c];
            readers[c] = column.Type switch
            {
                BooleanDataViewType => Reader<bool>(cursor, column, v => v),
                TextDataViewType => Reader<ReadOnlyMemory<char>>(cursor, column, v => v.ToString()),
                _ => Reader<float>(cursor, column, v => v),
            };
        }
        while (cursor.MoveNext())
        {
            for (var c = 0; c < readers.Length; c++) lists[c].Add(readers[c]());
        }
        return [.. schema.Select((column, c) => column.Type switch
        {
            BooleanDataViewType => (Array)lists[c].Cast<bool>().ToArray(),
            TextDataViewType => lists[c].Cast<string>().ToArray(),
            _ => lists[c].Cast<float>().ToArray(),
        })];
    }

    private static Func<object> Reader<T>(DataViewRowCursor cursor, DataViewSchema.Column column, Func<T, object> convert)
    {
        var getter = cursor.GetGetter<T>(column);
        return () =>
        {
            T value = default!;
            getter(ref value);
            return convert(value);
        };
    }
}
