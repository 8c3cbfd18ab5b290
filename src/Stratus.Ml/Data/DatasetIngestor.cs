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
        SqlColumns sql;
        if (format == SourceFormat.Csv)
        {
            sql = CsvHeader(connection, source, delimiter);
            try
            {
                Stage(connection, sql.Scan(CsvScan(source, delimiter, fullSample: false)));
            }
            catch (DataFormatException ex) when (ex.InnerException is DuckDBException inner && IsConversionError(inner))
            {
                // The type sniffed from the first rows does not hold further down: sniff the whole file instead.
                Stage(connection, sql.Scan(CsvScan(source, delimiter, fullSample: true)));
            }
        }
        else
        {
            CheckParquet(connection, source);
            sql = SqlColumns.OfParquet(source);
            Stage(connection, sql.ScanParquet(source));
        }

        using var command = connection.CreateCommand();
        var names = new List<ColumnSchema>();
        command.CommandText = "DESCRIBE staged";
        using (var reader = command.ExecuteReader())
        {
            // By position: the table's names are the SQL names, the dataset's those written.
            while (reader.Read()) names.Add(new ColumnSchema(sql.Names[names.Count], reader.GetString(1), Nullable: true));
        }
        if (names.Count == 0) throw new DataFormatException("the file has no columns");
        CheckSize(names.Count, Count(command, "SELECT count(*) FROM staged"));
        DuckDb.CopyToParquet(command, "SELECT * FROM staged", destination, sql.Names);
        var profile = DatasetProfiler.Profile(connection, "staged", names, sql);
        var rows = profile.Count > 0 ? profile[0].Count + profile[0].Missing : 0;
        var columns = names.Select((c, i) => c with { Nullable = profile[i].Missing > 0 }).ToList();
        return (new IngestResult(rows, columns), profile);
    }

    /// <summary>
    /// Holds what a Parquet file says of itself (columns, rows, decompressed bytes) against the limits before it is
    /// read: a few kilobytes of Parquet can declare millions of rows or gigabytes of run-length encoded values.
    /// </summary>
    private static void CheckParquet(DuckDBConnection connection, string source)
    {
        using var command = connection.CreateCommand();
        var file = DuckDb.Literal(source);
        long columns, rows, bytes;
        try
        {
            columns = Count(command, $"SELECT count(*) FROM parquet_schema({file}) WHERE num_children IS NULL OR num_children = 0");
            rows = Count(command, $"SELECT coalesce(sum(num_rows), 0)::BIGINT FROM parquet_file_metadata({file})");
            bytes = Count(command, $"SELECT coalesce(sum(total_uncompressed_size), 0)::BIGINT FROM parquet_metadata({file})");
        }
        catch (DuckDBException ex)
        {
            throw new DataFormatException(FirstLine(ex.Message), ex);
        }
        CheckSize(columns, rows);
        var limits = DataLimits.Current;
        if (bytes > limits.MaxDecompressedBytes)
            throw new DataFormatException($"the file decompresses to {bytes:N0} bytes; a dataset may hold at most {limits.MaxDecompressedBytes:N0} (limit MaxDecompressedBytes)");
    }

    private static void CheckSize(long columns, long rows)
    {
        var limits = DataLimits.Current;
        if (columns > limits.MaxColumns) throw new DataFormatException($"the file has {columns:N0} columns; a dataset may have at most {limits.MaxColumns:N0} (limit MaxColumns)");
        if (columns * rows > limits.MaxCells)
            throw new DataFormatException($"the file has {rows:N0} rows of {columns:N0} columns, {columns * rows:N0} values; a dataset may hold at most {limits.MaxCells:N0} (limit MaxCells)");
    }

    private static long Count(DuckDBCommand command, string sql)
    {
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <remarks>
    /// The sniffer may choose any type but BOOLEAN: it reads Yes/No, Y/N and T/F as booleans, so a target written
    /// <c>Yes</c> came back as <c>true</c> in labels, predictions and downloads, and a request sending "Yes" no longer fit.
    /// Such columns stay text, exactly as written. (Leading zeros and text like 1e5 among words already stay text.)
    /// </remarks>
    private static string CsvScan(string source, char delimiter, bool fullSample) =>
        $"read_csv({DuckDb.Literal(source)}, header = true{Dialect(delimiter)}, auto_type_candidates = ['BIGINT', 'DOUBLE', 'DATE', 'TIME', 'TIMESTAMP', 'VARCHAR']" +
        $"{(fullSample ? ", sample_size = -1" : "")})";

    /// <summary>
    /// A CSV file read as an upload reads it (the same dialect and header), every cell as text: for a reader that
    /// types the cells itself, as batch scoring does by the model's signature. Its columns: <see cref="CsvHeader"/>.
    /// </summary>
    internal static string CsvText(string source, char delimiter = ',') =>
        $"read_csv({DuckDb.Literal(source)}, header = true{Dialect(delimiter)}, all_varchar = true)";

    /// <summary>The header of a CSV file as an upload reads it.</summary>
    /// <exception cref="DataFormatException">The file cannot be read as CSV.</exception>
    internal static SqlColumns CsvHeader(DuckDBConnection connection, string source, char delimiter = ',') =>
        Read(() => SqlColumns.OfCsvHeader(connection, source, Dialect(delimiter)));

    private static string Dialect(char delimiter) =>
        $", delim = {DuckDb.Literal(delimiter.ToString())}, quote = '\"', escape = '\"', strict_mode = false";

    private static T Read<T>(Func<T> read)
    {
        try
        {
            return read();
        }
        catch (DuckDBException ex)
        {
            throw new DataFormatException(FirstLine(ex.Message), ex);
        }
    }

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

    internal static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        foreach (var prefix in new[] { "Invalid Input Error: ", "IO Error: ", "Conversion Error: ", "Invalid Error: " })
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal)) line = line[prefix.Length..];
        }
        return line;
    }
}
