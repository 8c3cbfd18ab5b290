using System.Globalization;
using DuckDB.NET.Data;
using Stratus.Ml.Data;

namespace Stratus.Ml.Drift;

/// <summary>Which predictions of a window to sketch: one model version's, read at a JSON path of each captured row.</summary>
public sealed record PredictionColumn(string Kind, IReadOnlyList<string> Path, string ModelName, int ModelVersion);

/// <summary>What a window of captured requests holds, sketched for drift.</summary>
public sealed record WindowSketch(long Rows, Dictionary<string, DistributionSketch> Features, DistributionSketch? Prediction, IReadOnlyList<string> UnseenColumns);

/// <summary>
/// Reads a window of captured requests (JSON-lines files of <c>CapturedRow</c>: time, request_id, row, model, inputs,
/// prediction) with DuckDB and sketches its columns as their baseline was sketched.
/// </summary>
public static class CaptureWindow
{
    /// <summary>Sketches the rows captured from <paramref name="from"/> (inclusive) to <paramref name="to"/> in <paramref name="files"/>.</summary>
    /// <param name="features">The model's input columns and their kinds.</param>
    public static WindowSketch Sketch(DuckDBConnection connection, IReadOnlyList<string> files, DateTimeOffset from, DateTimeOffset to,
        IReadOnlyDictionary<string, string> features, PredictionColumn? prediction)
    {
        static string Time(DateTimeOffset t) => $"TIMESTAMPTZ '{t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture)}+00'";
        // Every value read in one parse of each row (a path list), into a typed table the sketches scan like any other.
        var paths = new List<string> { DuckDb.JsonPointer("time"), DuckDb.JsonPointer("model", "name"), DuckDb.JsonPointer("model", "version") };
        paths.AddRange(features.Keys.Select(f => DuckDb.JsonPointer("inputs", f)));
        if (prediction is not null) paths.Add(DuckDb.JsonPointer([.. prediction.Path]));
        var selects = new List<string> { "CAST(v[1] AS TIMESTAMPTZ) AS captured_at", "v[2] AS model_name", "v[3] AS model_version" };
        selects.AddRange(features.Select((f, i) => Typed(f.Value, $"v[{i + 4}]") + $" AS c{i}"));
        if (prediction is not null) selects.Add(Typed(prediction.Kind, $"v[{features.Count + 4}]") + " AS predicted");
        using var command = connection.CreateCommand();
        var source = files.Count == 0
            ? "SELECT NULL::JSON AS json, NULL::VARCHAR[] AS v WHERE false"
            : $"SELECT json, json_extract_string(json, [{string.Join(", ", paths.Select(DuckDb.Literal))}]) AS v " +
              $"FROM read_json_objects([{string.Join(", ", files.Select(DuckDb.Literal))}], format = 'newline_delimited')";
        command.CommandText = $"CREATE OR REPLACE TEMP TABLE window_rows AS SELECT json, {string.Join(", ", selects)} FROM ({source})";
        command.ExecuteNonQuery();
        command.CommandText = $"DELETE FROM window_rows WHERE captured_at IS NULL OR captured_at < {Time(from)} OR captured_at >= {Time(to)}";
        command.ExecuteNonQuery();

        var columns = features.Select((f, i) => new SketchColumn(f.Key, f.Value, $"c{i}")).ToList();
        var sketches = DriftSketches.Compute(connection, "window_rows", columns, DriftDetector.TestRowsLimit);
        command.CommandText = "SELECT count(*) FROM window_rows";
        var rows = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);

        DistributionSketch? predicted = null;
        if (prediction is not null)
        {
            // Only one version's predictions: another version behind the endpoint answers differently by design.
            var own = $"(SELECT * FROM window_rows WHERE model_name = {DuckDb.Literal(prediction.ModelName)} " +
                $"AND model_version = '{prediction.ModelVersion.ToString(CultureInfo.InvariantCulture)}')";
            predicted = DriftSketches.Compute(connection, own, [new SketchColumn("prediction", prediction.Kind, "predicted")], DriftDetector.TestRowsLimit)["prediction"];
        }

        command.CommandText = "SELECT DISTINCT unnest(json_keys(json, '/inputs')) FROM window_rows";
        var unseen = new List<string>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                var name = reader.GetString(0);
                if (!features.ContainsKey(name)) unseen.Add(name);
            }
        }
        unseen.Sort(StringComparer.Ordinal);
        return new WindowSketch(rows, sketches, predicted, unseen);
    }

    /// <summary>A value read as text, as a column of this kind: a DOUBLE (NULL when it is not a number) or a VARCHAR.</summary>
    private static string Typed(string kind, string value) => kind == DriftSketches.Numeric ? $"TRY_CAST({value} AS DOUBLE)" : value;
}
