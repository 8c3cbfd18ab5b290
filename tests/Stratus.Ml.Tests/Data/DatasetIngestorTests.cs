using Stratus.Ml.Data;

namespace Stratus.Ml.Tests.Data;

public sealed class DatasetIngestorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("stratus-ml-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Should_infer_types_and_nullability_and_profile_every_column()
    {
        var csv = Path.Combine(_dir, "in.csv");
        var lines = new List<string> { "amount,category,when,flag" };
        for (var i = 0; i < 1000; i++) lines.Add($"{i * 0.5},{(i % 3 == 0 ? "food" : i % 3 == 1 ? "fuel" : "")},2024-01-{1 + (i % 28):00},{(i % 2 == 0 ? "true" : "false")}");
        File.WriteAllLines(csv, lines);
        var parquet = Path.Combine(_dir, "out.parquet");

        var (result, profile) = DatasetIngestor.Ingest(csv, SourceFormat.Csv, parquet, _dir);

        Assert.Equal(1000, result.Rows);
        Assert.Equal(["amount", "category", "when", "flag"], result.Columns.Select(c => c.Name));
        // true/false stays the text it was written as (a sniffed BOOLEAN turned Yes/No into true/false).
        Assert.Equal(["DOUBLE", "VARCHAR", "DATE", "VARCHAR"], result.Columns.Select(c => c.Type));
        Assert.True(result.Columns[1].Nullable);
        Assert.False(result.Columns[0].Nullable);

        using var connection = DuckDb.Open(_dir);
        Assert.Equal(profile, DatasetProfiler.ProfileParquet(connection, parquet, result.Columns), ProfileComparer.Instance);
        var amount = profile[0];
        Assert.Equal(0, amount.Min);
        Assert.Equal(499.5, amount.Max);
        Assert.Equal(249.75, amount.Mean!.Value, 6);
        Assert.InRange(amount.Quantiles!["p50"], 247, 252); // t-digest: approximate by design
        Assert.Equal(DatasetProfiler.HistogramBins, amount.Histogram!.Count);
        Assert.Equal(1000, amount.Histogram.Sum(b => b.Count));
        var category = profile[1];
        Assert.Equal(333, category.Missing);
        Assert.Equal(["food", "fuel"], category.TopValues!.Select(t => t.Value));
    }

    [Fact]
    public void Should_widen_a_type_when_a_late_row_breaks_the_sampled_one()
    {
        var csv = Path.Combine(_dir, "late.csv");
        var lines = new List<string> { "x" };
        for (var i = 0; i < 30_000; i++) lines.Add(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        lines.Add("not-a-number");
        File.WriteAllLines(csv, lines);

        var (result, _) = DatasetIngestor.Ingest(csv, SourceFormat.Csv, Path.Combine(_dir, "late.parquet"), _dir);

        Assert.Equal(30_001, result.Rows);
        Assert.Equal("VARCHAR", result.Columns[0].Type);
    }

    [Fact]
    public void Should_reject_a_file_that_is_not_parquet()
    {
        var fake = Path.Combine(_dir, "fake.parquet");
        File.WriteAllText(fake, "a,b\n1,2\n");
        var ex = Assert.Throws<DataFormatException>(() => DatasetIngestor.Ingest(fake, SourceFormat.Parquet, Path.Combine(_dir, "o.parquet"), _dir));
        Assert.DoesNotContain("   at ", ex.Message);
    }

    /// <summary>Profiles compare by value: records holding lists compare them by reference.</summary>
    private sealed class ProfileComparer : IEqualityComparer<ColumnProfile>
    {
        public static readonly ProfileComparer Instance = new();

        public bool Equals(ColumnProfile? x, ColumnProfile? y) =>
            System.Text.Json.JsonSerializer.Serialize(x, StratusJsonContext.Default.ColumnProfile!) == System.Text.Json.JsonSerializer.Serialize(y, StratusJsonContext.Default.ColumnProfile!);

        public int GetHashCode(ColumnProfile obj) => obj.Name.GetHashCode(StringComparison.Ordinal);
    }
}
