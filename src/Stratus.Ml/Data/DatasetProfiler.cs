using System.Globalization;
using DuckDB.NET.Data;

namespace Stratus.Ml.Data;

/// <summary>Computes the column profile of a Parquet dataset with DuckDB: the reference that drift detection compares against.</summary>
public static class DatasetProfiler
{
    /// <summary>The quantiles recorded for numeric columns.</summary>
    public static IReadOnlyList<double> QuantileLevels { get; } = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];

    /// <summary>Bins of the numeric histograms.</summary>
    public const int HistogramBins = 20;

    /// <summary>How many frequent values are kept for categorical columns.</summary>
    public const int TopValueCount = 10;

    /// <summary>Quantiles of tables larger than this are estimated from a sample of about this many rows.</summary>
    public const long QuantileSampleRows = 500_000;

    /// <summary>Profiles every column of a stored Parquet file.</summary>
    public static IReadOnlyList<ColumnProfile> ProfileParquet(DuckDBConnection connection, string parquet, IReadOnlyList<ColumnSchema> columns)
    {
        using var command = connection.CreateCommand();
        var sql = SqlColumns.OfParquet(parquet);
        command.CommandText = $"CREATE OR REPLACE TEMP VIEW profiled_parquet AS SELECT * FROM {sql.ScanParquet(parquet)}";
        command.ExecuteNonQuery();
        var profile = Profile(connection, "profiled_parquet", columns, sql);
        command.CommandText = "DROP VIEW profiled_parquet";
        command.ExecuteNonQuery();
        return profile;
    }

    /// <summary>
    /// Profiles every column of <paramref name="relation"/> (a table or view) in two scans, a sampled pass for
    /// quantiles, and one grouping per categorical column.
    /// </summary>
    /// <remarks>
    /// Counts, missing, min, max, mean, std, histograms and top values are exact, and so are the distinct counts of text
    /// columns and of numeric columns with at most about <see cref="ExactDistinctBelow"/> values. Larger distinct counts
    /// (HyperLogLog) and quantiles (t-digest, over a sample of about <see cref="QuantileSampleRows"/> rows for larger
    /// tables) are approximate.
    /// </remarks>
    /// <param name="sql">The SQL names of the columns in <paramref name="relation"/>.</param>
    public static IReadOnlyList<ColumnProfile> Profile(DuckDBConnection connection, string relation, IReadOnlyList<ColumnSchema> columns, SqlColumns sql)
    {
        using var command = connection.CreateCommand();
        // A few dozen columns per query: one query over thousands of columns holds every column's aggregate states
        // (HyperLogLog, t-digest) per thread at once and costs more than linear time to plan; in groups, time and
        // memory grow linearly with the columns (1,000 columns: 1.8 GB and 12.8 s in one query; in groups, see the
        // `wide` benchmark: about 240 MB and 3 s).
        return [.. columns.Chunk(ColumnsPerQuery).SelectMany(group => Profile(command, DuckDb.Identifier(relation), group, sql))];
    }

    /// <summary>Columns profiled by one query.</summary>
    private const int ColumnsPerQuery = 32;

    private static List<ColumnProfile> Profile(DuckDBCommand command, string relation, IReadOnlyList<ColumnSchema> columns, SqlColumns sql)
    {
        // Scan 1: the per-column aggregates of every column.
        var selects = new List<string> { "count(*)" };
        foreach (var c in columns)
        {
            var id = sql[c.Name];
            selects.Add($"count({id})");
            selects.Add($"approx_count_distinct({id})");
            if (DuckDb.IsNumeric(c.Type))
            {
                // The statistics are of the finite values (DuckDB's stddev of an infinity is an error, not a
                // number); NaN and infinities are counted apart.
                var x = $"{id}::DOUBLE";
                var finite = $"FILTER (WHERE isfinite({x}))";
                selects.Add($"min({x}) {finite}");
                selects.Add($"max({x}) {finite}");
                selects.Add($"avg({x}) {finite}");
                selects.Add($"stddev_samp({x}) {finite}");
                selects.Add($"count(*) FILTER (WHERE NOT isfinite({x}))");
            }
        }
        var aggregates = ReadRow(command, $"SELECT {string.Join(", ", selects)} FROM {relation}");

        var total = Convert.ToInt64(aggregates[0], CultureInfo.InvariantCulture);
        var quantileRow = Quantiles(command, relation, columns, sql, total);
        var q = 0;
        var stats = new List<(ColumnSchema Column, long Count, long Distinct, double? Min, double? Max, double? Mean, double? Std, Dictionary<string, double>? Quantiles, long NonFinite)>();
        var at = 1;
        foreach (var c in columns)
        {
            var count = Convert.ToInt64(aggregates[at++], CultureInfo.InvariantCulture);
            var distinct = Convert.ToInt64(aggregates[at++], CultureInfo.InvariantCulture);
            if (!DuckDb.IsNumeric(c.Type))
            {
                stats.Add((c, count, distinct, null, null, null, null, null, 0));
                continue;
            }
            var (min, max, mean, std) = (AsDouble(aggregates[at++]), AsDouble(aggregates[at++]), AsDouble(aggregates[at++]), AsDouble(aggregates[at++]));
            var nonFinite = Convert.ToInt64(aggregates[at++], CultureInfo.InvariantCulture);
            var quantiles = quantileRow[q++] is System.Collections.IList list
                ? QuantileLevels.Select((q, i) => (Key: "p" + (q * 100).ToString(CultureInfo.InvariantCulture), Value: AsDouble(list[i])))
                    .Where(p => p.Value is not null)
                    .ToDictionary(p => p.Key, p => p.Value!.Value)
                : null;
            stats.Add((c, count, distinct, min, max, mean, std, quantiles, nonFinite));
        }

        // Scan 2: the histograms of all numeric columns at once, over the bins that scan 1's min and max give.
        var binned = stats.Where(s => s.Min is not null && s.Max is not null).ToList();
        var histograms = new Dictionary<string, List<HistogramBin>>();
        if (binned.Count > 0)
        {
            var parts = binned.Select(s =>
            {
                var id = sql[s.Column.Name];
                var width = (s.Max!.Value - s.Min!.Value) / HistogramBins;
                var bin = width > 0 && double.IsFinite(width)
                    // Only finite values are binned (a FILTER does not keep DuckDB from casting the others).
                    ? $"CASE WHEN isfinite({id}::DOUBLE) THEN least(floor(({id}::DOUBLE - {Sql(s.Min.Value)}) / {Sql(width)})::BIGINT, {HistogramBins - 1}) END"
                    : "0";
                return $"to_json(histogram({bin}) FILTER (WHERE {id} IS NOT NULL AND isfinite({id}::DOUBLE)))::VARCHAR";
            });
            var row = ReadRow(command, $"SELECT {string.Join(", ", parts)} FROM {relation}");
            for (var i = 0; i < binned.Count; i++) histograms[binned[i].Column.Name] = Bins(binned[i].Min!.Value, binned[i].Max!.Value, row[i] as string);
        }

        // Exact distinct counts where decisions hang on them (the task, binary or multiclass; one-hot or hashed): a
        // HyperLogLog estimate of 2 for a 3-class target trained a binary model that never predicted the third class.
        var few = stats.Where(s => DuckDb.IsNumeric(s.Column.Type) && s.Distinct <= ExactDistinctBelow).ToList();
        var exact = few.Count == 0 ? [] : ReadRow(command, $"SELECT {string.Join(", ", few.Select(s => $"count(DISTINCT {sql[s.Column.Name]})"))} FROM {relation}");
        var exactNumeric = few.Select((s, i) => (s.Column.Name, Count: Convert.ToInt64(exact[i], CultureInfo.InvariantCulture))).ToDictionary(p => p.Name, p => p.Count);

        return stats.ConvertAll(s =>
        {
            if (DuckDb.IsNumeric(s.Column.Type))
            {
                return new ColumnProfile(s.Column.Name, s.Column.Type, s.Count, total - s.Count, exactNumeric.GetValueOrDefault(s.Column.Name, s.Distinct), s.Min, s.Max, s.Mean, s.Std,
                    s.Quantiles, histograms.GetValueOrDefault(s.Column.Name), null, s.NonFinite);
            }
            var (top, distinct) = TopValues(command, relation, sql[s.Column.Name]);
            return new ColumnProfile(s.Column.Name, s.Column.Type, s.Count, total - s.Count, distinct, null, null, null, null, null, null, top);
        });
    }

    /// <summary>Numeric columns whose estimated distinct count is at most this are counted exactly (text columns always are).</summary>
    public const long ExactDistinctBelow = 2_000;

    private static object?[] Quantiles(DuckDBCommand command, string relation, IReadOnlyList<ColumnSchema> columns, SqlColumns sql, long rows)
    {
        var levels = string.Join(", ", QuantileLevels.Select(q => q.ToString(CultureInfo.InvariantCulture)));
        var parts = columns.Where(c => DuckDb.IsNumeric(c.Type)).Select(c => $"approx_quantile({sql[c.Name]}::DOUBLE, [{levels}])").ToList();
        if (parts.Count == 0) return [];
        // System sampling skips whole vectors, so it costs a fraction of a scan; the t-digest is approximate anyway.
        var sample = rows > 2 * QuantileSampleRows
            ? $" USING SAMPLE {Math.Max(1.0, 100.0 * QuantileSampleRows / rows).ToString("F2", CultureInfo.InvariantCulture)} PERCENT (system)"
            : "";
        return ReadRow(command, $"SELECT {string.Join(", ", parts)} FROM {relation}{sample}");
    }

    private static object?[] ReadRow(DuckDBCommand command, string sql)
    {
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        reader.Read();
        var values = new object?[reader.FieldCount];
        for (var i = 0; i < values.Length; i++) values[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
        return values;
    }

    private static List<HistogramBin> Bins(double min, double max, string? json)
    {
        var counts = new long[HistogramBins];
        if (json is not null)
        {
            using var doc = System.Text.Json.JsonDocument.Parse(json);
            foreach (var bin in doc.RootElement.EnumerateObject())
                counts[Math.Clamp(int.Parse(bin.Name, CultureInfo.InvariantCulture), 0, HistogramBins - 1)] += bin.Value.GetInt64();
        }
        var width = (max - min) / HistogramBins;
        if (width <= 0 || !double.IsFinite(width)) return [new HistogramBin(min, max, counts.Sum())];
        return [.. counts.Select((n, i) => new HistogramBin(min + (i * width), i == HistogramBins - 1 ? max : min + ((i + 1) * width), n))];
    }

    private static string Sql(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The most frequent values, and (from the same grouping) the exact number of distinct values.</summary>
    private static (List<ValueCount> Top, long Distinct) TopValues(DuckDBCommand command, string relation, string id)
    {
        command.CommandText = $"""
            SELECT v, n, count(*) OVER () AS distinct_values FROM (SELECT {id}::VARCHAR AS v, count(*) AS n FROM {relation} WHERE {id} IS NOT NULL GROUP BY v)
            ORDER BY n DESC, v LIMIT {TopValueCount}
            """;
        var values = new List<ValueCount>();
        long distinct = 0;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            values.Add(new ValueCount(reader.GetString(0), reader.GetInt64(1)));
            distinct = reader.GetInt64(2);
        }
        return (values, distinct);
    }

    private static double? AsDouble(object? value) => value switch
    {
        null => null,
        double d when double.IsFinite(d) => d,
        double => null,
        _ => Convert.ToDouble(value, CultureInfo.InvariantCulture),
    };
}
