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

    /// <summary>Profiles every column of <paramref name="parquet"/>.</summary>
    public static IReadOnlyList<ColumnProfile> Profile(DuckDBConnection connection, string parquet, IReadOnlyList<ColumnSchema> columns)
    {
        var scan = $"read_parquet({DuckDb.Literal(parquet)})";
        using var command = connection.CreateCommand();
        command.CommandText = $"CREATE OR REPLACE TEMP VIEW profiled AS SELECT * FROM {scan}";
        command.ExecuteNonQuery();

        // One scan for the per-column aggregates of every column.
        var selects = new List<string> { "count(*)" };
        foreach (var c in columns)
        {
            var id = DuckDb.Identifier(c.Name);
            selects.Add($"count({id})");
            selects.Add($"approx_count_distinct({id})");
            if (DuckDb.IsNumeric(c.Type))
            {
                var x = $"{id}::DOUBLE";
                var levels = string.Join(", ", QuantileLevels.Select(q => q.ToString(CultureInfo.InvariantCulture)));
                selects.Add($"min({x})");
                selects.Add($"max({x})");
                selects.Add($"avg({x})");
                selects.Add($"stddev_samp({x})");
                selects.Add($"quantile_cont({x}, [{levels}])");
            }
        }
        command.CommandText = $"SELECT {string.Join(", ", selects)} FROM profiled";
        var aggregates = new object?[selects.Count];
        using (var reader = command.ExecuteReader())
        {
            reader.Read();
            for (var i = 0; i < aggregates.Length; i++) aggregates[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
        }

        var total = Convert.ToInt64(aggregates[0], CultureInfo.InvariantCulture);
        var profiles = new List<ColumnProfile>(columns.Count);
        var at = 1;
        foreach (var c in columns)
        {
            var count = Convert.ToInt64(aggregates[at++], CultureInfo.InvariantCulture);
            var distinct = Convert.ToInt64(aggregates[at++], CultureInfo.InvariantCulture);
            if (DuckDb.IsNumeric(c.Type))
            {
                var min = AsDouble(aggregates[at++]);
                var max = AsDouble(aggregates[at++]);
                var mean = AsDouble(aggregates[at++]);
                var std = AsDouble(aggregates[at++]);
                var quantiles = aggregates[at++] is System.Collections.IList list
                    ? QuantileLevels.Select((q, i) => (Key: "p" + (q * 100).ToString(CultureInfo.InvariantCulture), Value: AsDouble(list[i])))
                        .Where(p => p.Value is not null)
                        .ToDictionary(p => p.Key, p => p.Value!.Value)
                    : null;
                var histogram = min is { } lo && max is { } hi ? Histogram(command, c.Name, lo, hi) : null;
                profiles.Add(new ColumnProfile(c.Name, c.Type, count, total - count, distinct, min, max, mean, std, quantiles, histogram, null));
            }
            else
            {
                profiles.Add(new ColumnProfile(c.Name, c.Type, count, total - count, distinct, null, null, null, null, null, null, TopValues(command, c.Name)));
            }
        }
        command.CommandText = "DROP VIEW profiled";
        command.ExecuteNonQuery();
        return profiles;
    }

    private static List<HistogramBin> Histogram(DuckDBCommand command, string column, double min, double max)
    {
        var id = DuckDb.Identifier(column);
        var width = (max - min) / HistogramBins;
        var counts = new long[HistogramBins];
        if (width <= 0 || !double.IsFinite(width))
        {
            command.CommandText = $"SELECT count({id}) FROM profiled";
            counts[0] = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
            return [new HistogramBin(min, max, counts[0])];
        }
        var w = width.ToString("R", CultureInfo.InvariantCulture);
        var lo = min.ToString("R", CultureInfo.InvariantCulture);
        command.CommandText = $"""
            SELECT least(floor(({id}::DOUBLE - {lo}) / {w})::BIGINT, {HistogramBins - 1}) AS bin, count(*)
            FROM profiled WHERE {id} IS NOT NULL AND isfinite({id}::DOUBLE) GROUP BY bin
            """;
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read()) counts[Math.Clamp(reader.GetInt64(0), 0, HistogramBins - 1)] += reader.GetInt64(1);
        }
        return [.. counts.Select((n, i) => new HistogramBin(min + (i * width), i == HistogramBins - 1 ? max : min + ((i + 1) * width), n))];
    }

    private static List<ValueCount> TopValues(DuckDBCommand command, string column)
    {
        var id = DuckDb.Identifier(column);
        command.CommandText = $"""
            SELECT {id}::VARCHAR AS v, count(*) AS n FROM profiled WHERE {id} IS NOT NULL
            GROUP BY v ORDER BY n DESC, v LIMIT {TopValueCount}
            """;
        var values = new List<ValueCount>();
        using var reader = command.ExecuteReader();
        while (reader.Read()) values.Add(new ValueCount(reader.GetString(0), reader.GetInt64(1)));
        return values;
    }

    private static double? AsDouble(object? value) => value switch
    {
        null => null,
        double d when double.IsFinite(d) => d,
        double => null,
        _ => Convert.ToDouble(value, CultureInfo.InvariantCulture),
    };
}
