using System.Diagnostics;
using System.Globalization;
using Stratus.Ml.Data;

/// <summary>
/// Ingesting (parsing, profiling, writing Parquet) a wide CSV vs DuckDB's own CSV-to-Parquet copy of the same file:
/// time and the process's peak memory, so that the cost per column stays linear.
/// </summary>
internal static class WideBenchmark
{
    public static void Run(string work, int columns, int rows)
    {
        DataLimits.Current = DataLimits.Current with { MaxColumns = Math.Max(columns, DataLimits.Current.MaxColumns) };
        var csv = Path.Combine(work, "wide.csv");
        using (var writer = new StreamWriter(csv))
        {
            writer.WriteLine(string.Join(',', Enumerable.Range(0, columns).Select(c => $"c{c}")));
            var random = new Random(1);
            for (var r = 0; r < rows; r++)
                writer.WriteLine(string.Join(',', Enumerable.Range(0, columns).Select(c => c % 3 == 0 ? "x" + random.Next(5) : random.Next(100).ToString(CultureInfo.InvariantCulture))));
        }
        var reference = Stopwatch.StartNew();
        using (var connection = DuckDb.Open(work))
        using (var command = connection.CreateCommand())
        {
            command.CommandText = $"COPY (SELECT * FROM read_csv({DuckDb.Literal(csv)}, header = true)) TO {DuckDb.Literal(Path.Combine(work, "ref.parquet"))} (FORMAT parquet)";
            command.ExecuteNonQuery();
        }
        var copy = reference.Elapsed;
        var before = Process.GetCurrentProcess().PeakWorkingSet64;
        var clock = Stopwatch.StartNew();
        var (result, profile) = DatasetIngestor.Ingest(csv, SourceFormat.Csv, Path.Combine(work, "wide.parquet"), work);
        var ingest = clock.Elapsed;
        Console.WriteLine($"wide CSV: {columns:N0} columns x {rows:N0} rows ({new FileInfo(csv).Length:N0} bytes), {profile.Count} profiles");
        Console.WriteLine($"  Stratus ingest {ingest.TotalSeconds:F1} s, DuckDB copy {copy.TotalSeconds:F1} s: ratio {ingest / copy:F1}");
        Console.WriteLine($"  peak working set {Math.Max(before, Process.GetCurrentProcess().PeakWorkingSet64) / 1e6:F0} MB ({result.Rows} rows stored)");
    }
}
