using DuckDB.NET.Data;

namespace Stratus.Ml.Data;

/// <summary>Opens in-process DuckDB connections with the settings Stratus runs them under.</summary>
public static class DuckDb
{
    /// <summary>Opens an in-memory database that spills to <paramref name="tempDirectory"/>, so files larger than memory work.</summary>
    public static DuckDBConnection Open(string tempDirectory, int? threads = null)
    {
        var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"""
            SET temp_directory = {Literal(tempDirectory)};
            SET threads = {threads ?? DataLimits.Current.DuckDbThreads};
            SET memory_limit = '{DataLimits.Current.DuckDbMemoryBytes / (1 << 20)}MiB';
            SET preserve_insertion_order = true;
            SET enable_progress_bar = false;
            SET autoinstall_known_extensions = false;
            SET autoload_known_extensions = false;
            """;
        command.ExecuteNonQuery();
        return connection;
    }

    /// <summary>
    /// Writes what <paramref name="query"/> returns to a Parquet file whose columns are named <paramref name="names"/>
    /// (one per column of the query, in order): DuckDB writes its case-folded form of names that differ only in case.
    /// </summary>
    public static void CopyToParquet(DuckDBCommand command, string query, string path, IReadOnlyList<string> names, string options = ", COMPRESSION zstd")
    {
        command.CommandText = $"COPY ({query}) TO {Literal(path)} (FORMAT parquet{options})";
        command.ExecuteNonQuery();
        ParquetFooter.RenameColumns(path, names);
    }

    /// <summary>A JSON pointer (RFC 6901) to the value at <paramref name="keys"/>: any key is safe in it once ~ and / are escaped; unlike SQL names, it tells case apart.</summary>
    public static string JsonPointer(params string[] keys) =>
        "/" + string.Join('/', keys.Select(k => k.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal)));

    /// <summary>A SQL string literal.</summary>
    public static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>A quoted SQL identifier.</summary>
    public static string Identifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    internal static bool IsNumeric(string type) =>
        type is "TINYINT" or "SMALLINT" or "INTEGER" or "BIGINT" or "HUGEINT" or "UTINYINT" or "USMALLINT"
            or "UINTEGER" or "UBIGINT" or "UHUGEINT" or "FLOAT" or "DOUBLE"
        || type.StartsWith("DECIMAL", StringComparison.Ordinal);
}
