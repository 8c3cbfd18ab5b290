using System.Globalization;
using System.Text;
using System.Text.Json;
using Stratus.Ml.Data;

namespace Stratus.Ml.Inference;

/// <summary>Scores a CSV file with a model package: the same code path as an endpoint, so the same rows give the same predictions.</summary>
public static class BatchScorer
{
    private const int Chunk = 1000;

    public static long Score(ModelPackage model, string csv, string output)
    {
        var temp = output + ".part";
        long count = 0;
        try
        {
            using (var connection = DuckDb.Open(Path.GetTempPath()))
            using (var command = connection.CreateCommand())
            using (var writer = new StreamWriter(temp, false, new UTF8Encoding(false)))
            {
                var classes = model.Manifest.Classes;
                writer.WriteLine(classes.Count > 0 ? string.Join(',', classes.Select(Quote).Append("label")) : "prediction");
                command.CommandText = $"SELECT * FROM read_csv({DuckDb.Literal(csv)}, header = true)";
                using var reader = command.ExecuteReader();
                var batch = new List<IReadOnlyDictionary<string, JsonElement>>(Chunk);
                var docs = new List<JsonDocument>();
                while (true)
                {
                    var more = reader.Read();
                    if (more) batch.Add(ToRow(reader, docs));
                    if (batch.Count == Chunk || (!more && batch.Count > 0))
                    {
                        foreach (var p in model.Predict(batch))
                        {
                            writer.WriteLine(classes.Count > 0
                                ? string.Join(',', classes.Select(c => p.Probabilities![c].ToString("R", CultureInfo.InvariantCulture)).Append(Quote(p.Label!)))
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
        finally
        {
            File.Delete(temp);
        }
    }

    private static Dictionary<string, JsonElement> ToRow(System.Data.Common.DbDataReader reader, List<JsonDocument> docs)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            for (var i = 0; i < reader.FieldCount; i++)
            {
                json.WritePropertyName(reader.GetName(i));
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
            }
            json.WriteEndObject();
        }
        var doc = JsonDocument.Parse(buffer.ToArray());
        docs.Add(doc);
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
    }

    private static string Quote(string value) =>
        value.AsSpan().IndexOfAny(",\"\n\r") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
}
