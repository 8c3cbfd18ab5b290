using System.Globalization;

namespace Stratus.Ml.Data;

/// <summary>What <see cref="RetrainingData.Prepare"/> wrote.</summary>
public sealed record RetrainingSplit(long TrainRows, long HoldoutRows, long FeedbackRows);

/// <summary>
/// The data a retraining learns from and is judged on: a dataset version, optionally with labelled feedback added, split
/// into a training part and a holdout that neither the challenger nor the training sees. A row goes to the holdout by
/// the hash of its content and a seed, so the split does not depend on row order and duplicates stay on one side.
/// </summary>
public static class RetrainingData
{
    /// <param name="feedbackJsonl">JSON lines of extra rows (a dataset column per field), or null.</param>
    /// <param name="holdoutPercent">The share of rows held out, 1 to 90 percent.</param>
    public static RetrainingSplit Prepare(string parquet, string? feedbackJsonl, string trainOut, string holdoutOut, int holdoutPercent, int seed, string tempDirectory)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(holdoutPercent, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(holdoutPercent, 90);
        using var connection = DuckDb.Open(tempDirectory);
        using var command = connection.CreateCommand();
        var sql = SqlColumns.OfParquet(parquet);
        command.CommandText = $"CREATE TEMP TABLE source AS SELECT * FROM {sql.ScanParquet(parquet)}";
        command.ExecuteNonQuery();

        long feedback = 0;
        if (feedbackJsonl is not null && new FileInfo(feedbackJsonl).Length > 0)
        {
            // Each field by its exact name (a JSON pointer; DuckDB's own names ignore case) as the dataset's type;
            // columns it lacks stay empty. Integers may come as 3.0 from JSON: read as numbers first.
            var types = new List<string>();
            command.CommandText = "DESCRIBE source";
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read()) types.Add(reader.GetString(1));
            }
            var values = types.Select((type, i) => DuckDb.IsNumeric(type) && type is not ("FLOAT" or "DOUBLE") && !type.StartsWith("DECIMAL", StringComparison.Ordinal)
                ? $"CAST(CAST(v[{i + 1}] AS DOUBLE) AS {type})"
                : $"CAST(v[{i + 1}] AS {type})");
            command.CommandText = "SELECT count(*) FROM source";
            var before = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
            command.CommandText = $"INSERT INTO source SELECT {string.Join(", ", values)} FROM (SELECT json_extract_string(json, [{string.Join(", ", sql.Names.Select(n => DuckDb.Literal(DuckDb.JsonPointer(n))))}]) AS v " +
                $"FROM read_json_objects({DuckDb.Literal(feedbackJsonl)}, format = 'newline_delimited'))";
            command.ExecuteNonQuery();
            command.CommandText = "SELECT count(*) FROM source";
            feedback = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) - before;
        }

        var held = $"hash(source, {seed.ToString(CultureInfo.InvariantCulture)}) % 100 < {holdoutPercent.ToString(CultureInfo.InvariantCulture)}";
        long Write(string path, string where)
        {
            var temp = path + ".tmp";
            command.CommandText = $"SELECT count(*) FROM source WHERE {where}";
            var rows = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
            DuckDb.CopyToParquet(command, $"SELECT * FROM source WHERE {where}", temp, sql.Names, "");
            File.Move(temp, path, overwrite: true);
            return rows;
        }
        var train = Write(trainOut, $"NOT ({held})");
        var holdout = Write(holdoutOut, held);
        return new RetrainingSplit(train, holdout, feedback);
    }
}
