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
        command.CommandText = $"CREATE TEMP TABLE source AS SELECT * FROM read_parquet({DuckDb.Literal(parquet)})";
        command.ExecuteNonQuery();

        long feedback = 0;
        if (feedbackJsonl is not null && new FileInfo(feedbackJsonl).Length > 0)
        {
            // The feedback's fields take the dataset's types; columns it lacks stay empty.
            var types = new List<(string Name, string Type)>();
            command.CommandText = "DESCRIBE source";
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read()) types.Add((reader.GetString(0), reader.GetString(1)));
            }
            var columns = string.Join(", ", types.Select(t => $"{DuckDb.Literal(t.Name)}: {DuckDb.Literal(t.Type)}"));
            command.CommandText = $"SELECT count(*) FROM source";
            var before = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
            command.CommandText = $"INSERT INTO source BY NAME SELECT * FROM read_json({DuckDb.Literal(feedbackJsonl)}, format = 'newline_delimited', columns = {{{columns}}})";
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
            command.CommandText = $"COPY (SELECT * FROM source WHERE {where}) TO {DuckDb.Literal(temp)} (FORMAT parquet)";
            command.ExecuteNonQuery();
            File.Move(temp, path, overwrite: true);
            return rows;
        }
        var train = Write(trainOut, $"NOT ({held})");
        var holdout = Write(holdoutOut, held);
        return new RetrainingSplit(train, holdout, feedback);
    }
}
