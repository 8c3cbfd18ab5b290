using DuckDB.NET.Data;
using Stratus.Ml.Data;

namespace Stratus.Ml.Tests.Data;

/// <summary>Tests that lower the process's limits run alone: every other test reads them.</summary>
[CollectionDefinition(nameof(DataLimitsCollection), DisableParallelization = true)]
public sealed class DataLimitsCollection;

[Collection(nameof(DataLimitsCollection))]
public sealed class DataLimitsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("stratus-limits-").FullName;
    private readonly DataLimits _saved = DataLimits.Current;

    public void Dispose()
    {
        DataLimits.Current = _saved;
        Directory.Delete(_dir, recursive: true);
    }

    private string Parquet(string select)
    {
        var path = Path.Combine(_dir, $"{Guid.NewGuid():N}.parquet");
        using var connection = DuckDb.Open(_dir);
        using var command = connection.CreateCommand();
        command.CommandText = $"COPY ({select}) TO {DuckDb.Literal(path)} (FORMAT parquet, COMPRESSION zstd)";
        command.ExecuteNonQuery();
        return path;
    }

    private DataFormatException Refused(string parquet) =>
        Assert.Throws<DataFormatException>(() => DatasetIngestor.Ingest(parquet, SourceFormat.Parquet, Path.Combine(_dir, "out.parquet"), _dir));

    [Fact]
    public void Should_refuse_parquet_that_declares_more_cells_than_allowed_before_reading_it()
    {
        // A few kilobytes that declare two million rows.
        var parquet = Parquet("SELECT 7 AS a, 'x' AS b FROM range(2000000)");
        Assert.True(new FileInfo(parquet).Length < 64 << 10, $"{new FileInfo(parquet).Length} bytes");
        DataLimits.Current = _saved with { MaxCells = 1_000_000 };

        var refused = Refused(parquet);

        Assert.Equal("the file has 2,000,000 rows of 2 columns, 4,000,000 values; a dataset may hold at most 1,000,000 (limit MaxCells)", refused.Message);
    }

    [Fact]
    public void Should_refuse_parquet_that_decompresses_beyond_the_limit_or_is_too_wide()
    {
        var parquet = Parquet("SELECT repeat('y', 1000) || range::VARCHAR AS text FROM range(200000)"); // 200 MB of text in about a megabyte
        DataLimits.Current = _saved with { MaxDecompressedBytes = 50 << 20 };
        Assert.Contains("a dataset may hold at most 52,428,800 (limit MaxDecompressedBytes)", Refused(parquet).Message);

        var wide = Parquet("SELECT " + string.Join(", ", Enumerable.Range(0, 30).Select(i => $"{i} AS c{i}")));
        DataLimits.Current = _saved with { MaxColumns = 20 };
        Assert.Equal("the file has 30 columns; a dataset may have at most 20 (limit MaxColumns)", Refused(wide).Message);
    }

    [Fact]
    public void Should_run_duckdb_within_the_configured_memory_and_threads()
    {
        DataLimits.Current = _saved with { DuckDbMemoryBytes = 300L << 20, DuckDbThreads = 1 };
        using DuckDBConnection connection = DuckDb.Open(_dir);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT current_setting('memory_limit'), current_setting('threads')";
        using var reader = command.ExecuteReader();
        reader.Read();
        Assert.Equal("300.0 MiB", reader.GetString(0));
        Assert.Equal(1L, Convert.ToInt64(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture));
    }
}
