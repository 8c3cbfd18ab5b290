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

    /// <summary>Numeric columns with more values are sketched from a uniform sample of this many.</summary>
    public const int MaxSortedValues = 2_000_000;

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
            var moments = new List<(long Count, double Mean, double Std)>();
            command.CommandText = $"SELECT {string.Join(", ", numeric.Select(c => $"count({c.Expression}), avg({c.Expression}), stddev_pop({c.Expression})"))} FROM {relation}";
            using (var reader = command.ExecuteReader())
            {
                reader.Read();
                for (var i = 0; i < numeric.Count; i++)
                {
                    var count = reader.GetInt64(i * 3);
                    moments.Add(count == 0 ? (0, 0, 0) : (count, reader.GetDouble((i * 3) + 1), reader.GetDouble((i * 3) + 2)));
                }
            }
            for (var i = 0; i < numeric.Count; i++)
            {
                var (count, mean, std) = moments[i];
                if (count == 0)
                {
                    sketches[numeric[i].Name] = new DistributionSketch(Numeric, 0, rows);
                    continue;
                }
                // Quantiles from the sorted values (DuckDB's quantile_cont with a thousand levels costs a pass per level);
                // beyond MaxSortedValues from a uniform sample of them, whose quantiles are as exact as the sketch keeps.
                var sample = count > MaxSortedValues ? $" USING SAMPLE reservoir({MaxSortedValues} ROWS) REPEATABLE (42)" : "";
                command.CommandText = $"SELECT v FROM (SELECT {numeric[i].Expression} AS v FROM {relation} WHERE {numeric[i].Expression} IS NOT NULL){sample}";
                var values = new double[Math.Min(count, MaxSortedValues)];
                var n = 0;
                using (var reader = command.ExecuteReader())
                {
                    while (reader.Read() && n < values.Length) values[n++] = reader.GetDouble(0);
                }
                Array.Sort(values, 0, n);
                var sorted = n == values.Length ? values : values[..n];
                sketches[numeric[i].Name] = new DistributionSketch(Numeric, count, rows - count, Quantiles(sorted), mean, std, Values: keepValues ? sorted : null);
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
        var mean = sorted.Average();
        var std = Math.Sqrt(sorted.Sum(v => (v - mean) * (v - mean)) / sorted.Length);
        return new DistributionSketch(Numeric, sorted.Length, 0, Quantiles(sorted), mean, std);
    }

    /// <summary>Quantiles at the sketch's levels of sorted values, interpolated between order statistics (as DuckDB's quantile_cont).</summary>
    private static double[] Quantiles(double[] sorted)
    {
        var quantiles = new double[DistributionSketch.QuantileCount];
        for (var i = 0; i < quantiles.Length; i++)
        {
            var position = (double)i / (quantiles.Length - 1) * (sorted.Length - 1);
            var lower = (int)Math.Floor(position);
            var upper = Math.Min(lower + 1, sorted.Length - 1);
            quantiles[i] = sorted[lower] + ((position - lower) * (sorted[upper] - sorted[lower]));
        }
        return quantiles;
    }

    /// <summary>The sketch of categories held in memory (a multiclass model's predicted labels).</summary>
    public static DistributionSketch OfCategories(IEnumerable<string> values)
    {
        var counts = values.GroupBy(v => v, StringComparer.Ordinal).ToDictionary(g => g.Key, g => (long)g.Count(), StringComparer.Ordinal);
        return new DistributionSketch(Categorical, counts.Values.Sum(), 0, Counts: counts);
    }
}
