using System.Globalization;
using DuckDB.NET.Data;

namespace Stratus.Ml.Drift;

/// <summary>A column to sketch: its name, <c>numeric</c> or <c>categorical</c>, and the SQL expression that reads it (a DOUBLE or a VARCHAR).</summary>
public sealed record SketchColumn(string Name, string Kind, string Expression);

/// <summary>Distribution sketches of columns computed by DuckDB, in one scan for the numbers and one grouping per category column.</summary>
public static class DriftSketches
{
    public const string Numeric = "numeric";
    public const string Categorical = "categorical";

    /// <summary>Category columns keep their most frequent values up to this; the rest are counted as <see cref="Other"/>.</summary>
    public const int MaxCategories = 1000;

    /// <summary>The category that stands for the values beyond <see cref="MaxCategories"/>.</summary>
    public const string Other = "__other__";

    private static readonly string Levels = string.Join(", ",
        Enumerable.Range(0, DistributionSketch.QuantileCount).Select(i => ((double)i / (DistributionSketch.QuantileCount - 1)).ToString("R", CultureInfo.InvariantCulture)));

    /// <summary>
    /// Sketches the columns of <paramref name="relation"/> (a table, a view or a parenthesized query). A relation of at
    /// most <paramref name="keepValuesUpTo"/> rows keeps its numbers' own sorted values too, for exact tests.
    /// </summary>
    public static Dictionary<string, DistributionSketch> Compute(DuckDBConnection connection, string relation, IReadOnlyList<SketchColumn> columns, int keepValuesUpTo = 0)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM {relation}";
        var rows = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        var keepValues = rows <= keepValuesUpTo;
        var sketches = new Dictionary<string, DistributionSketch>(StringComparer.Ordinal);

        var numeric = columns.Where(c => c.Kind == Numeric).ToList();
        if (numeric.Count > 0)
        {
            var parts = numeric.SelectMany(c => new[]
            {
                $"count({c.Expression})", $"quantile_cont({c.Expression}, [{Levels}])", $"avg({c.Expression})", $"stddev_pop({c.Expression})",
                keepValues ? $"list({c.Expression} ORDER BY {c.Expression}) FILTER (WHERE {c.Expression} IS NOT NULL)" : "NULL",
            });
            command.CommandText = $"SELECT {string.Join(", ", parts)} FROM {relation}";
            using var reader = command.ExecuteReader();
            reader.Read();
            for (var i = 0; i < numeric.Count; i++)
            {
                var at = i * 5;
                var count = reader.GetInt64(at);
                sketches[numeric[i].Name] = count == 0
                    ? new DistributionSketch(Numeric, 0, rows)
                    : new DistributionSketch(Numeric, count, rows - count, Doubles(reader.GetValue(at + 1)), reader.GetDouble(at + 2), reader.GetDouble(at + 3),
                        Values: keepValues ? Doubles(reader.GetValue(at + 4)) : null);
            }
        }
        foreach (var c in columns.Where(c => c.Kind == Categorical))
        {
            command.CommandText = $"SELECT {c.Expression} AS v, count(*) AS n FROM {relation} WHERE {c.Expression} IS NOT NULL GROUP BY v ORDER BY n DESC, v";
            var counts = new Dictionary<string, long>(StringComparer.Ordinal);
            long count = 0;
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    var n = reader.GetInt64(1);
                    count += n;
                    var key = counts.Count < MaxCategories ? reader.GetString(0) : Other;
                    counts[key] = counts.GetValueOrDefault(key) + n;
                }
            }
            sketches[c.Name] = new DistributionSketch(Categorical, count, rows - count, Counts: counts);
        }
        return sketches;
    }

    /// <summary>The sketch of numbers held in memory (a model's validation predictions).</summary>
    public static DistributionSketch OfNumbers(IEnumerable<double> values)
    {
        var sorted = values.Where(double.IsFinite).Order().ToArray();
        if (sorted.Length == 0) return new DistributionSketch(Numeric, 0, 0);
        var quantiles = new double[DistributionSketch.QuantileCount];
        for (var i = 0; i < quantiles.Length; i++)
        {
            // Linear interpolation between order statistics, as quantile_cont.
            var position = (double)i / (quantiles.Length - 1) * (sorted.Length - 1);
            var lower = (int)Math.Floor(position);
            var upper = Math.Min(lower + 1, sorted.Length - 1);
            quantiles[i] = sorted[lower] + ((position - lower) * (sorted[upper] - sorted[lower]));
        }
        var mean = sorted.Average();
        var std = Math.Sqrt(sorted.Sum(v => (v - mean) * (v - mean)) / sorted.Length);
        return new DistributionSketch(Numeric, sorted.Length, 0, quantiles, mean, std);
    }

    /// <summary>The sketch of categories held in memory (a multiclass model's predicted labels).</summary>
    public static DistributionSketch OfCategories(IEnumerable<string> values)
    {
        var counts = values.GroupBy(v => v, StringComparer.Ordinal).ToDictionary(g => g.Key, g => (long)g.Count(), StringComparer.Ordinal);
        return new DistributionSketch(Categorical, counts.Values.Sum(), 0, Counts: counts);
    }

    private static double[] Doubles(object? list) =>
        list is System.Collections.IList values ? [.. values.Cast<object?>().Select(v => Convert.ToDouble(v, CultureInfo.InvariantCulture))] : [];
}
