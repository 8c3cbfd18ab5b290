using DuckDB.NET.Data;

namespace Stratus.Ml.Data;

/// <summary>The file formats a dataset can be uploaded in.</summary>
public enum SourceFormat
{
    /// <summary>Comma-separated values with a header line, UTF-8.</summary>
    Csv,

    /// <summary>Apache Parquet.</summary>
    Parquet,
}

/// <summary>What ingestion produced: the Parquet file's row count and schema.</summary>
public sealed record IngestResult(long Rows, IReadOnlyList<ColumnSchema> Columns);

/// <summary>Converts an uploaded file into the Parquet form Stratus stores, inferring its schema with DuckDB.</summary>
public static class DatasetIngestor
{
    /// <summary>Reads <paramref name="source"/> and writes it as zstd-compressed Parquet to <paramref name="destination"/>.</summary>
    /// <exception cref="DataFormatException">The file cannot be read as the given format; the message says why and where.</exception>
    public static IngestResult ToParquet(string source, SourceFormat format, string destination, string tempDirectory, char delimiter = ',')
    {
        using var connection = DuckDb.Open(tempDirectory);
        if (format == SourceFormat.Csv)
        {
            try
            {
                Copy(connection, CsvScan(source, delimiter, fullSample: false), destination);
            }
            catch (DuckDBException ex) when (IsConversionError(ex))
            {
                // The type sniffed from the first rows does not hold further down: sniff the whole file instead.
                try
                {
                    Copy(connection, CsvScan(source, delimiter, fullSample: true), destination);
                }
                catch (DuckDBException again)
                {
                    throw new DataFormatException(FirstLine(again.Message));
                }
            }
        }
        else
        {
            Copy(connection, $"read_parquet({DuckDb.Literal(source)})", destination);
        }
        return Describe(connection, destination);
    }

    /// <summary>Reads the row count and schema of a stored Parquet file.</summary>
    public static IngestResult Describe(DuckDBConnection connection, string parquet)
    {
        using var command = connection.CreateCommand();
        var scan = $"read_parquet({DuckDb.Literal(parquet)})";
        var names = new List<(string Name, string Type)>();
        command.CommandText = $"DESCRIBE SELECT * FROM {scan}";
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read()) names.Add((reader.GetString(0), reader.GetString(1)));
        }
        if (names.Count == 0) throw new DataFormatException("the file has no columns");
        var counts = string.Join(", ", names.Select(c => $"count({DuckDb.Identifier(c.Name)})"));
        command.CommandText = $"SELECT count(*), {counts} FROM {scan}";
        using var stats = command.ExecuteReader();
        stats.Read();
        var rows = Convert.ToInt64(stats.GetValue(0));
        var columns = names.Select((c, i) => new ColumnSchema(c.Name, c.Type, Convert.ToInt64(stats.GetValue(i + 1)) < rows)).ToList();
        return new IngestResult(rows, columns);
    }

    private static string CsvScan(string source, char delimiter, bool fullSample) =>
        $"read_csv({DuckDb.Literal(source)}, header = true, delim = {DuckDb.Literal(delimiter.ToString())}, " +
        $"quote = '\"', escape = '\"', strict_mode = false{(fullSample ? ", sample_size = -1" : "")})";

    private static void Copy(DuckDBConnection connection, string scan, string destination)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"COPY (SELECT * FROM {scan}) TO {DuckDb.Literal(destination)} (FORMAT parquet, COMPRESSION zstd)";
        try
        {
            command.ExecuteNonQuery();
        }
        catch (DuckDBException ex) when (!IsConversionError(ex))
        {
            throw new DataFormatException(FirstLine(ex.Message));
        }
    }

    private static bool IsConversionError(DuckDBException ex) =>
        ex.Message.Contains("Conversion Error", StringComparison.Ordinal)
        || ex.Message.Contains("Could not convert", StringComparison.Ordinal);

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        foreach (var prefix in new[] { "Invalid Input Error: ", "IO Error: ", "Conversion Error: ", "Invalid Error: " })
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal)) line = line[prefix.Length..];
        }
        return line;
    }
}
