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
    /// <summary>
    /// Reads <paramref name="source"/>, writes it as zstd-compressed Parquet to <paramref name="destination"/> and
    /// profiles it. The file is parsed once into a DuckDB table (spilling to <paramref name="tempDirectory"/> when
    /// larger than memory) that both the Parquet writer and the profiler read.
    /// </summary>
    /// <exception cref="DataFormatException">The file cannot be read as the given format; the message says why and where.</exception>
    public static (IngestResult Result, IReadOnlyList<ColumnProfile> Profile) Ingest(string source, SourceFormat format, string destination, string tempDirectory, char delimiter = ',')
    {
        using var connection = DuckDb.Open(tempDirectory);
        if (format == SourceFormat.Csv)
        {
            try
            {
                Stage(connection, CsvScan(source, delimiter, fullSample: false));
            }
            catch (DataFormatException ex) when (ex.InnerException is DuckDBException inner && IsConversionError(inner))
            {
                // The type sniffed from the first rows does not hold further down: sniff the whole file instead.
                Stage(connection, CsvScan(source, delimiter, fullSample: true));
            }
        }
        else
        {
            Stage(connection, $"read_parquet({DuckDb.Literal(source)})");
        }

        using var command = connection.CreateCommand();
        command.CommandText = $"COPY staged TO {DuckDb.Literal(destination)} (FORMAT parquet, COMPRESSION zstd)";
        command.ExecuteNonQuery();
        var names = new List<ColumnSchema>();
        command.CommandText = "DESCRIBE staged";
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read()) names.Add(new ColumnSchema(reader.GetString(0), reader.GetString(1), Nullable: true));
        }
        if (names.Count == 0) throw new DataFormatException("the file has no columns");
        var profile = DatasetProfiler.Profile(connection, "staged", names);
        var rows = profile.Count > 0 ? profile[0].Count + profile[0].Missing : 0;
        var columns = names.ConvertAll(c => c with { Nullable = profile.First(p => p.Name == c.Name).Missing > 0 });
        return (new IngestResult(rows, columns), profile);
    }

    private static string CsvScan(string source, char delimiter, bool fullSample) =>
        $"read_csv({DuckDb.Literal(source)}, header = true, delim = {DuckDb.Literal(delimiter.ToString())}, " +
        $"quote = '\"', escape = '\"', strict_mode = false{(fullSample ? ", sample_size = -1" : "")})";

    private static void Stage(DuckDBConnection connection, string scan)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"CREATE OR REPLACE TEMP TABLE staged AS SELECT * FROM {scan}";
        try
        {
            command.ExecuteNonQuery();
        }
        catch (DuckDBException ex)
        {
            throw new DataFormatException(FirstLine(ex.Message), ex);
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
