using Microsoft.ML;
using Microsoft.ML.Data;

namespace Stratus.Ml.Training.Gbm;

/// <summary>
/// Feature vectors in compressed sparse row form, the layout LightGBM reads without copying into a dense matrix:
/// one-hot and hashed categories and text n-grams stay small. Zeros are left out; missing values stay as NaN.
/// </summary>
internal sealed class SparseRows
{
    private SparseRows(long[] rowStarts, int[] indices, float[] values, int columns)
    {
        RowStarts = rowStarts;
        Indices = indices;
        Values = values;
        Columns = columns;
    }

    /// <summary>Where each row's entries start in <see cref="Indices"/> and <see cref="Values"/>, plus one past the last.</summary>
    public long[] RowStarts { get; }

    public int[] Indices { get; }

    public float[] Values { get; }

    public int Rows => RowStarts.Length - 1;

    public int Columns { get; }

    /// <summary>Rows from feature vectors already read (one per row, all of one width).</summary>
    public static SparseRows From(IReadOnlyList<VBuffer<float>> vectors)
    {
        var starts = new long[vectors.Count + 1];
        var indices = new List<int>();
        var values = new List<float>();
        for (var r = 0; r < vectors.Count; r++)
        {
            Append(vectors[r], indices, values);
            starts[r + 1] = indices.Count;
        }
        return new SparseRows(starts, [.. indices], [.. values], vectors.Count == 0 ? 0 : vectors[0].Length);
    }

    /// <summary>Reads the vector column <paramref name="column"/> of every row of <paramref name="view"/>.</summary>
    public static SparseRows Read(IDataView view, string column = "Features") => Read(view, column, null).Rows;

    /// <summary>
    /// Reads the <c>Features</c> vector of every row and, in the same pass, the label as
    /// <see cref="TrainedModel.Labels"/> encodes it.
    /// </summary>
    public static (SparseRows Rows, float[] Labels) ReadWithLabels(IDataView view, MlTask task, IReadOnlyList<string> classes) =>
        Read(view, "Features", cursor => TrainedModel.LabelReader(cursor, task, classes));

    /// <summary>Every <c>n</c>-th row, <paramref name="count"/> rows in all: a fixed, spread-out sample.</summary>
    public (SparseRows Rows, float[] Labels) Sample(float[] labels, int count)
    {
        var starts = new long[count + 1];
        var picked = new float[count];
        var indices = new List<int>();
        var values = new List<float>();
        for (var k = 0; k < count; k++)
        {
            var r = (int)((long)k * Rows / count);
            for (var e = RowStarts[r]; e < RowStarts[r + 1]; e++)
            {
                indices.Add(Indices[e]);
                values.Add(Values[e]);
            }
            starts[k + 1] = indices.Count;
            picked[k] = labels[r];
        }
        return (new SparseRows(starts, [.. indices], [.. values], Columns), picked);
    }

    private static (SparseRows Rows, float[] Labels) Read(IDataView view, string column, Func<DataViewRowCursor, Func<float>>? label)
    {
        var features = view.Schema[column];
        var width = features.Type is VectorDataViewType { Size: > 0 } vector ? vector.Size
            : throw new InvalidOperationException($"column '{column}' is not a vector of known size");
        var starts = new List<long> { 0 };
        var indices = new List<int>();
        var values = new List<float>();
        var labels = new List<float>();
        using var cursor = label is null ? view.GetRowCursor([features]) : view.GetRowCursor([features, view.Schema[TrainingData.LabelColumn]]);
        var getter = cursor.GetGetter<VBuffer<float>>(features);
        var readLabel = label?.Invoke(cursor);
        VBuffer<float> row = default;
        while (cursor.MoveNext())
        {
            if (readLabel is not null) labels.Add(readLabel());
            getter(ref row);
            Append(row, indices, values);
            starts.Add(indices.Count);
        }
        return (new SparseRows([.. starts], [.. indices], [.. values], width), [.. labels]);
    }

    /// <summary>Adds a vector's entries, leaving out zeros (LightGBM reads an absent entry as 0; NaN stays, as missing).</summary>
    private static void Append(in VBuffer<float> row, List<int> indices, List<float> values)
    {
        var v = row.GetValues();
        var at = row.IsDense ? default : row.GetIndices();
        for (var i = 0; i < v.Length; i++)
        {
            if (v[i] == 0) continue;
            indices.Add(row.IsDense ? i : at[i]);
            values.Add(v[i]);
        }
    }
}
