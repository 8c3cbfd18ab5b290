using System.Globalization;
using System.Text;
using System.Text.Json;
using Stratus.Ml.Data;

namespace Stratus.Ml.Inference;

/// <summary>Scores a CSV file with a model package: the same code path as an endpoint, so the same rows give the same predictions.</summary>
public static class BatchScorer
{
    private const int Chunk = 1000;

    /// <summary>Scores every row of <paramref name="csv"/> into <paramref name="output"/> (written whole or not at all); returns the rows.</summary>
    /// <exception cref="DataFormatException">The file is not CSV that can be read.</exception>
    /// <exception cref="PredictionInputException">A row does not fit the model's signature; its index counts the file's rows from 0.</exception>
    public static long Score(ModelPackage model, string csv, string output)
    {
        CsvValidator.Check(csv); // a ragged row or a broken quote, by line and field, before anything is written
        var temp = output + ".part";
        long count = 0;
        try
        {
            using (var connection = DuckDb.Open(Path.GetTempPath()))
            using (var command = connection.CreateCommand())
            using (var writer = new StreamWriter(temp, false, new UTF8Encoding(false)))
            {
                var classes = model.Manifest.Classes;
                writer.WriteLine(classes.Count > 0 ? string.Join(',', classes.Select(CsvValidator.Field).Append("label")) : "prediction");
                // Read as an upload reads it, every cell as text, then typed by the model's signature as a request
                // types it: DuckDB's own sniffing of this one file could disagree with the training data's (yes/no
                // read as booleans, a column of digits as numbers), and a model then sees values it was never given.
                var sql = DatasetIngestor.CsvHeader(connection, csv);
                var inputs = model.Manifest.Inputs.ToDictionary(i => i.Name, i => i.Type, StringComparer.Ordinal);
                var types = sql.Names.Select(n => inputs.GetValueOrDefault(n)).ToArray();
                command.CommandText = $"SELECT * FROM {sql.Scan(DatasetIngestor.CsvText(csv))}";
                using var reader = command.ExecuteReader();
                var batch = new List<IReadOnlyDictionary<string, JsonElement>>(Chunk);
                var docs = new List<JsonDocument>();
                while (true)
                {
                    var more = reader.Read();
                    if (more) batch.Add(ToRequestRow(reader, docs, sql.Names, types, count + batch.Count));
                    if (batch.Count == Chunk || (!more && batch.Count > 0))
                    {
                        foreach (var p in model.Predict(batch))
                        {
                            writer.WriteLine(classes.Count > 0
                                ? string.Join(',', classes.Select(c => p.Probabilities![c].ToString("R", CultureInfo.InvariantCulture)).Append(CsvValidator.Field(p.Label!)))
                                : p.Value!.Value.ToString("R", CultureInfo.InvariantCulture));
                        }
                        count += batch.Count;
                        batch.Clear();
                        docs.ForEach(d => d.Dispose());
                        docs.Clear();
                    }
                    if (!more) break;
                }
            }
            File.Move(temp, output, overwrite: true);
            return count;
        }
        catch (DuckDB.NET.Data.DuckDBException ex)
        {
            // A ragged row or a broken quote further down the file.
            throw new DataFormatException(DatasetIngestor.FirstLine(ex.Message), ex);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>
    /// The model's metrics on a labelled Parquet file (its target column holds the truth), as training computes them:
    /// what a champion and a challenger are compared by. Rows without a label, or with a class the model does not know,
    /// are left out and counted in the second value.
    /// </summary>
    public static (Dictionary<string, double> Metrics, long Rows, long Skipped) Evaluate(ModelPackage model, string parquet, string tempDirectory, CancellationToken ct = default)
    {
        var manifest = model.Manifest;
        var task = Training.MlTasks.Parse(manifest.Task) ?? Training.MlTask.Regression;
        var classIndex = manifest.Classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        var sql = SqlColumns.OfParquet(parquet);
        var target = sql[manifest.Target];
        var (labels, scores, skipped) = ScoreRows(model, sql, $"SELECT *, {target}::VARCHAR AS {Truth} FROM {sql.ScanParquet(parquet)} WHERE {target} IS NOT NULL",
            tempDirectory, text => task == Training.MlTask.Regression ? float.Parse(text, CultureInfo.InvariantCulture) : classIndex.TryGetValue(text, out var i) ? i : null, ct);
        var (metrics, _) = Training.ModelMetrics.Compute(task, [.. labels], [.. scores], manifest.Classes.Count);
        return (metrics, labels.Count, skipped);
    }

    /// <summary>
    /// The model's scores on the rows of a Parquet file (a repeatable sample of <paramref name="maxRows"/> when it has
    /// more), laid out as <see cref="Training.ModelMetrics.Width"/> says: what a baseline of its predictions is made of.
    /// </summary>
    public static double[] Scores(ModelPackage model, string parquet, string tempDirectory, int maxRows = 100_000, CancellationToken ct = default)
    {
        var sql = SqlColumns.OfParquet(parquet);
        return [.. ScoreRows(model, sql, $"SELECT * FROM {sql.ScanParquet(parquet)} USING SAMPLE reservoir({maxRows} ROWS) REPEATABLE (42)", tempDirectory, null, ct).Scores];
    }

    private const string Truth = "stratus_truth"; // one of SqlColumns.Added

    /// <summary>
    /// Scores the rows a query returns in chunks (the file's columns <paramref name="columns"/> first); with
    /// <paramref name="label"/>, its <see cref="Truth"/> column is read as the label (null: the row is skipped).
    /// </summary>
    private static (List<float> Labels, List<double> Scores, long Skipped) ScoreRows(ModelPackage model, SqlColumns columns, string sql, string tempDirectory, Func<string, float?>? label, CancellationToken ct)
    {
        var manifest = model.Manifest;
        var task = Training.MlTasks.Parse(manifest.Task) ?? Training.MlTask.Regression;
        using var connection = DuckDb.Open(tempDirectory);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var truthOrdinal = label is null ? -1 : reader.GetOrdinal(Truth);
        var labels = new List<float>();
        var scores = new List<double>();
        long skipped = 0;
        var batch = new List<IReadOnlyDictionary<string, JsonElement>>(Chunk);
        var docs = new List<JsonDocument>();
        void Flush()
        {
            foreach (var p in model.Predict(batch))
            {
                if (task == Training.MlTask.Regression) scores.Add(p.Value ?? double.NaN);
                else if (task == Training.MlTask.BinaryClassification) scores.Add(p.Probabilities![manifest.Classes[^1]]);
                else scores.AddRange(manifest.Classes.Select(c => p.Probabilities![c]));
            }
            batch.Clear();
            docs.ForEach(d => d.Dispose());
            docs.Clear();
        }
        while (reader.Read())
        {
            ct.ThrowIfCancellationRequested();
            if (label is not null)
            {
                if (label(reader.GetString(truthOrdinal)) is not { } value)
                {
                    skipped++;
                    continue;
                }
                labels.Add(value);
            }
            batch.Add(ToRow(reader, docs, columns.Names));
            if (batch.Count == Chunk) Flush();
        }
        if (batch.Count > 0) Flush();
        return (labels, scores, skipped);
    }

    /// <summary>What <see cref="ScoreParquet"/> wrote: the rows scored and the prediction columns added.</summary>
    public sealed record ParquetOutput(long Rows, IReadOnlyList<string> Columns);

    /// <summary>
    /// Scores every row of a Parquet file on all cores, in chunks of <paramref name="chunkRows"/>, resumably: each
    /// chunk's predictions are written to <paramref name="workDir"/> (aside, then renamed) and a chunk already there
    /// is not scored again. Then writes <paramref name="output"/> (Parquet): the input's rows in their order with the
    /// prediction columns added (<c>TARGET_predicted</c>, and <c>TARGET_probability_CLASS</c> for classifiers).
    /// </summary>
    /// <param name="progress">Receives the rows done and the total.</param>
    /// <param name="partScored">Receives each part file once it is whole (from the scoring threads): a caller that keeps parts elsewhere can resume on another machine.</param>
    public static ParquetOutput ScoreParquet(ModelPackage model, string parquet, string workDir, string output, Action<long, long>? progress = null,
        int chunkRows = 10_000, Action<string>? partScored = null, CancellationToken ct = default)
    {
        Directory.CreateDirectory(workDir);
        using var connection = DuckDb.Open(workDir);
        using var command = connection.CreateCommand();
        var sql = SqlColumns.OfParquet(parquet);
        if (sql.Names.Any(SqlColumns.Added.Contains))
        {
            // read_parquet cannot add its row number to a file with a column of that name: read a copy named otherwise.
            var copy = Path.Combine(workDir, "input.parquet");
            File.Copy(parquet, copy, overwrite: true);
            ParquetFooter.RenameColumns(copy, sql.SqlNames);
            parquet = copy;
        }
        command.CommandText = $"SELECT * FROM {sql.ScanParquet(parquet, ", file_row_number = true")}";
        using var reader = command.ExecuteReader();
        var columns = PredictionColumns(model.Manifest, sql.Names.ToHashSet(StringComparer.Ordinal));
        var rowNumber = reader.GetOrdinal("file_row_number");
        long total;
        using (var count = connection.CreateCommand())
        {
            count.CommandText = $"SELECT count(*) FROM read_parquet({DuckDb.Literal(parquet)})";
            total = Convert.ToInt64(count.ExecuteScalar(), CultureInfo.InvariantCulture);
        }

        // One reader feeds chunks to a scorer per core; each scorer writes its chunk's part file.
        var chunks = System.Threading.Channels.Channel.CreateBounded<(string Part, long First, List<IReadOnlyDictionary<string, JsonElement>> Rows, List<JsonDocument> Docs)>(Environment.ProcessorCount);
        long done = 0;
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var scorers = Enumerable.Range(0, Environment.ProcessorCount).Select(_ => Task.Run(async () =>
        {
            try
            {
                await foreach (var (part, first, rows, docs) in chunks.Reader.ReadAllAsync(failed.Token))
                {
                    IReadOnlyList<Prediction> predictions;
                    try
                    {
                        predictions = model.Predict(rows);
                    }
                    catch (PredictionInputException ex)
                    {
                        throw new InvalidDataException(RowError(ex, first));
                    }
                    docs.ForEach(d => d.Dispose());
                    WritePart(part, first, predictions, model.Manifest);
                    partScored?.Invoke(part);
                    progress?.Invoke(Interlocked.Add(ref done, rows.Count), total);
                }
            }
            catch
            {
                await failed.CancelAsync(); // the reader stops feeding
                throw;
            }
        }, CancellationToken.None)).ToArray();
        try
        {
            var chunk = 0;
            var more = true;
            while (more)
            {
                ct.ThrowIfCancellationRequested();
                var part = Path.Combine(workDir, $"part-{chunk++:D6}.csv");
                var rows = new List<IReadOnlyDictionary<string, JsonElement>>(chunkRows);
                var docs = new List<JsonDocument>();
                long first = -1;
                var resumed = File.Exists(part);
                while (rows.Count < chunkRows && (more = reader.Read()))
                {
                    if (first < 0) first = reader.GetInt64(rowNumber);
                    rows.Add(resumed ? EmptyRow : ToRow(reader, docs, sql.Names));
                }
                if (rows.Count == 0) break;
                if (resumed)
                {
                    progress?.Invoke(Interlocked.Add(ref done, rows.Count), total); // scored by an earlier attempt
                    continue;
                }
                chunks.Writer.WriteAsync((part, first, rows, docs), failed.Token).AsTask().GetAwaiter().GetResult();
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // a scorer failed: its error is thrown below
        }
        finally
        {
            chunks.Writer.TryComplete();
        }
        try
        {
            Task.WaitAll(scorers, CancellationToken.None);
        }
        catch (AggregateException ex)
        {
            var cause = ex.InnerExceptions.FirstOrDefault(e => e is not OperationCanceledException) ?? ex.InnerExceptions[0];
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(cause);
        }
        ct.ThrowIfCancellationRequested();

        // The input joined with its predictions, in the input's order; a missing or extra row is an error, not a short file.
        // The parts' columns have names of their own (predicted, p0, p1 ...), given theirs in the output's footer.
        var types = string.Join(", ", PartColumns(model.Manifest).Select((c, i) =>
            $"{DuckDb.Literal(c)}: '{(i == 0 ? "BIGINT" : i == 1 && model.Manifest.Classes.Count > 0 ? "VARCHAR" : "DOUBLE")}'"));
        var joined = $"SELECT i.* EXCLUDE (file_row_number), p.* EXCLUDE (file_row_number) FROM {sql.ScanParquet(parquet, ", file_row_number = true", "i")} " +
            $"JOIN read_csv({DuckDb.Literal(Path.Combine(workDir, "part-*.csv"))}, header = true, columns = {{{types}}}) p USING (file_row_number) ORDER BY file_row_number";
        using (var copy = connection.CreateCommand())
        {
            DuckDb.CopyToParquet(copy, joined, output, [.. sql.Names, .. columns]);
        }
        using (var check = connection.CreateCommand())
        {
            check.CommandText = $"SELECT count(*) FROM read_parquet({DuckDb.Literal(output)})";
            var written = Convert.ToInt64(check.ExecuteScalar(), CultureInfo.InvariantCulture);
            if (written != total) throw new InvalidDataException($"the scored output has {written:N0} rows, the input {total:N0}");
        }
        return new ParquetOutput(total, columns);
    }

    private static readonly Dictionary<string, JsonElement> EmptyRow = [];

    /// <summary>"row 1234, column 'amount': expected a number" from a chunk's <c>instances[33].amount: ...</c>.</summary>
    private static string RowError(PredictionInputException ex, long first)
    {
        var match = System.Text.RegularExpressions.Regex.Match(ex.Field, @"^instances\[(\d+)\]\.(.+)$");
        return match.Success
            ? $"row {first + long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) + 1:N0}, column '{match.Groups[2].Value}': {ex.Reason}"
            : ex.Message;
    }

    /// <summary><c>TARGET_predicted</c>, then a probability per class for classifiers; renamed past any input column of the same name.</summary>
    private static List<string> PredictionColumns(ModelManifest manifest, HashSet<string> inputs)
    {
        string Free(string name)
        {
            while (inputs.Contains(name)) name += "_scored";
            return name;
        }
        return [Free($"{manifest.Target}_predicted"), .. manifest.Classes.Select(c => Free($"{manifest.Target}_probability_{c}"))];
    }

    private static IEnumerable<string> PartColumns(ModelManifest manifest) =>
        new[] { "file_row_number", "predicted" }.Concat(manifest.Classes.Select((_, k) => $"p{k}"));

    private static void WritePart(string part, long first, IReadOnlyList<Prediction> predictions, ModelManifest manifest)
    {
        var temp = part + ".tmp";
        using (var writer = new StreamWriter(temp, false, new UTF8Encoding(false)))
        {
            writer.WriteLine(string.Join(',', PartColumns(manifest)));
            for (var r = 0; r < predictions.Count; r++)
            {
                var p = predictions[r];
                writer.Write((first + r).ToString(CultureInfo.InvariantCulture));
                writer.Write(',');
                if (manifest.Classes.Count == 0)
                {
                    writer.WriteLine(p.Value!.Value.ToString("R", CultureInfo.InvariantCulture));
                    continue;
                }
                writer.Write(CsvValidator.Field(p.Label!));
                foreach (var c in manifest.Classes) writer.Write(',' + p.Probabilities![c].ToString("R", CultureInfo.InvariantCulture));
                writer.WriteLine();
            }
        }
        File.Move(temp, part, overwrite: true);
    }

    /// <summary>
    /// A row of text cells as a request would send it for the model's input <paramref name="types"/>: a number for a
    /// numeric input, true or false for a boolean one, text for the rest (dates included); an empty cell is missing.
    /// </summary>
    /// <exception cref="PredictionInputException">A cell does not hold its input's type; names the row and the column.</exception>
    private static Dictionary<string, JsonElement> ToRequestRow(System.Data.Common.DbDataReader reader, List<JsonDocument> docs, IReadOnlyList<string> names, string?[] types, long row) =>
        Row(docs, names, (json, i) =>
        {
            var text = reader.IsDBNull(i) ? "" : reader.GetString(i);
            var type = types[i];
            if (text.Length == 0 && type is not (null or "VARCHAR")) json.WriteNullValue();
            else if (type is not null && DuckDb.IsNumeric(type))
            {
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) || !double.IsFinite(number))
                    throw new PredictionInputException(ModelPackage.Field((int)row, names[i]), $"expected a number, got '{Shorten(text)}'");
                json.WriteNumberValue(number);
            }
            else if (type == "BOOLEAN")
            {
                json.WriteBooleanValue(text.Trim().ToLowerInvariant() switch
                {
                    "true" or "t" or "yes" or "y" or "1" => true,
                    "false" or "f" or "no" or "n" or "0" => false,
                    _ => throw new PredictionInputException(ModelPackage.Field((int)row, names[i]), $"expected true or false, got '{Shorten(text)}'"),
                });
            }
            else json.WriteStringValue(text);
        });

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "...";

    /// <summary>A request row of the reader's first fields, named as written (<paramref name="names"/>); fields after them are not inputs.</summary>
    private static Dictionary<string, JsonElement> ToRow(System.Data.Common.DbDataReader reader, List<JsonDocument> docs, IReadOnlyList<string> names) =>
        Row(docs, names, (json, i) =>
        {
            var value = reader.IsDBNull(i) ? null : reader.GetValue(i);
            switch (value)
            {
                case null: json.WriteNullValue(); break;
                case bool b: json.WriteBooleanValue(b); break;
                case double or float or decimal or long or int or short or byte or sbyte or ulong or uint or ushort:
                    json.WriteNumberValue(Convert.ToDouble(value, CultureInfo.InvariantCulture)); break;
                case DateTime d: json.WriteStringValue(d.ToString("O", CultureInfo.InvariantCulture)); break;
                case DateOnly d: json.WriteStringValue(d.ToString("O", CultureInfo.InvariantCulture)); break;
                default: json.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture)); break;
            }
        });

    /// <summary>
    /// A row as a request's JSON object, field <c>i</c> named <c>names[i]</c> and written by <paramref name="value"/>;
    /// its document joins <paramref name="docs"/>, disposed once the row is scored.
    /// </summary>
    private static Dictionary<string, JsonElement> Row(List<JsonDocument> docs, IReadOnlyList<string> names, Action<Utf8JsonWriter, int> value)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            for (var i = 0; i < names.Count; i++)
            {
                json.WritePropertyName(names[i]);
                value(json, i);
            }
            json.WriteEndObject();
        }
        var doc = JsonDocument.Parse(buffer.ToArray());
        docs.Add(doc);
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
    }
}
