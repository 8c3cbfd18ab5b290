using Stratus.Ml.Data;

namespace Stratus.Ml.Tests;

/// <summary>Ingests CSV text exactly as an upload would, for tests that need a stored Parquet dataset and its profile.</summary>
internal static class StoredCsv
{
    public static (string Parquet, IReadOnlyList<ColumnProfile> Profile) Ingest(string directory, string csv)
    {
        var source = Path.Combine(directory, $"{Guid.NewGuid():N}.csv");
        File.WriteAllText(source, csv);
        var parquet = Path.ChangeExtension(source, ".parquet");
        var (_, profile) = DatasetIngestor.Ingest(source, SourceFormat.Csv, parquet, directory);
        return (parquet, profile);
    }
}
