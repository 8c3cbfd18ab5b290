using System.Globalization;
using System.Text;
using Stratus.Ml.Data;
using Stratus.Ml.Drift;

namespace Stratus.Ml.Tests.Drift;

public sealed class DriftDetectorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("stratus-drift-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly SketchColumn[] Columns =
    [
        new("amount", DriftSketches.Numeric, "amount::DOUBLE"),
        new("hour", DriftSketches.Numeric, "hour::DOUBLE"),
        new("channel", DriftSketches.Categorical, "channel::VARCHAR"),
        new("score", DriftSketches.Numeric, "score::DOUBLE"),
    ];

    /// <summary>
    /// Rows of a known distribution: amount ~ N(100 + shift, 20), hour uniform on 0..23 (discrete), channel
    /// web/app/store with the given shares, score ~ U(0, 1) with a tenth missing.
    /// </summary>
    private string Write(string name, int rows, int seed, double shift = 0, double[]? channels = null)
    {
        channels ??= [0.5, 0.3, 0.2];
        var random = new Random(seed);
        var csv = new StringBuilder("amount,hour,channel,score\n");
        for (var i = 0; i < rows; i++)
        {
            var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            var u = random.NextDouble();
            var channel = u < channels[0] ? "web" : u < channels[0] + channels[1] ? "app" : "store";
            var score = random.NextDouble() < 0.1 ? "" : random.NextDouble().ToString("R", CultureInfo.InvariantCulture);
            csv.Append(CultureInfo.InvariantCulture, $"{100 + shift + (20 * normal):F3},{random.Next(24)},{channel},{score}\n");
        }
        var path = Path.Combine(_dir, name + ".csv");
        File.WriteAllText(path, csv.ToString());
        return $"read_csv({DuckDb.Literal(path)}, header = true)";
    }

    private Dictionary<string, FeatureDrift> Check(string baseline, string window)
    {
        using var connection = DuckDb.Open(_dir);
        var reference = DriftSketches.Compute(connection, baseline, Columns);
        var current = DriftSketches.Compute(connection, window, Columns, keepValuesUpTo: DriftDetector.TestRowsLimit);
        return Columns.ToDictionary(c => c.Name, c => DriftDetector.Compare(c.Name, reference[c.Name], current[c.Name]));
    }

    [Fact]
    public void Should_flag_only_the_shifted_columns_with_a_distance_on_a_large_window()
    {
        var baseline = Write("baseline", 20_000, 1);
        var drift = Check(baseline, Write("shifted", 5_000, 2, shift: 10, channels: [0.3, 0.3, 0.4]));
        Assert.Equal(("drift", "wasserstein"), (drift["amount"].Status, drift["amount"].Method));
        Assert.InRange(drift["amount"].Score!.Value, 0.4, 0.6); // half a standard deviation, normed by it
        Assert.Equal(("drift", "jensenshannon"), (drift["channel"].Status, drift["channel"].Method));
        Assert.Equal("ok", drift["hour"].Status);
        Assert.Equal("ok", drift["score"].Status);
        Assert.InRange(drift["score"].MissingRate, 0.08, 0.12);
        Assert.InRange(drift["amount"].Statistics["psi"], 0.1, 1); // a shift of half a deviation moves PSI well past 0.1
        Assert.True(drift["hour"].Statistics["psi"] < 0.01);
    }

    [Fact]
    public void Should_flag_the_shifted_columns_with_a_test_on_a_small_window_and_not_a_resample()
    {
        var baseline = Write("baseline", 20_000, 1);
        var shifted = Check(baseline, Write("small-shifted", 600, 3, shift: 6, channels: [0.35, 0.3, 0.35]));
        Assert.Equal(("drift", "ks"), (shifted["amount"].Status, shifted["amount"].Method));
        Assert.True(shifted["amount"].Score < 1e-6);
        Assert.Equal(("drift", "chisquare"), (shifted["channel"].Status, shifted["channel"].Method));
        Assert.Equal("ok", shifted["hour"].Status);

        // Fresh samples of the training distribution, large and small: no alarm on any column.
        foreach (var (rows, seed) in new[] { (600, 4), (5_000, 5) })
        {
            var resample = Check(baseline, Write($"resample-{seed}", rows, seed));
            Assert.All(resample.Values, f => Assert.True(f.Status == "ok", $"{f.Column}: {f.Method} {f.Score} on a resample"));
            Assert.True(resample["hour"].Statistics["ks_p_value"] > 0.05);
        }
    }

    [Fact]
    public void Should_report_a_window_too_small_to_judge_as_insufficient_data_never_as_no_drift()
    {
        var drift = Check(Write("baseline", 2_000, 1), Write("tiny", 12, 6, shift: 50));
        Assert.All(drift.Values, f => Assert.Equal(("insufficient_data", (double?)null), (f.Status, f.Score)));
        Assert.Equal(12, drift["amount"].Rows);
    }

    [Fact]
    public void Should_count_new_categories_and_values_out_of_the_baselines_range()
    {
        using var connection = DuckDb.Open(_dir);
        var baseline = DriftSketches.OfCategories(Enumerable.Repeat("web", 80).Concat(Enumerable.Repeat("app", 20)));
        var current = DriftSketches.OfCategories(Enumerable.Repeat("web", 60).Concat(Enumerable.Repeat("kiosk", 40)));
        var channel = DriftDetector.Compare("channel", baseline, current);
        Assert.Equal(0.4, channel.NewCategoryRate!.Value, 1e-12);
        Assert.Equal("drift", channel.Status);

        var numbers = DriftDetector.Compare("x", DriftSketches.OfNumbers(Enumerable.Range(0, 1000).Select(i => i / 1000.0)),
            DriftSketches.OfNumbers(Enumerable.Range(0, 100).Select(i => (i / 100.0) + 0.25)) with { Values = [.. Enumerable.Range(0, 100).Select(i => (i / 100.0) + 0.25)] });
        Assert.Equal(0.25, numbers.OutOfRangeRate!.Value, 1e-9);
        Assert.Equal(0.25, numbers.Statistics["ks"], 0.002);
    }

    [Fact]
    public void Should_compute_p_values_as_the_reference_distributions()
    {
        // Closed forms for 2 and 4 degrees of freedom; tabled critical values for 1 and 10; the Kolmogorov distribution's 95% point.
        foreach (var x in new[] { 0.5, 3, 11.7 })
        {
            Assert.Equal(Math.Exp(-x / 2), DriftStatistics.ChiSquaredSurvival(x, 2), 1e-12);
            Assert.Equal(Math.Exp(-x / 2) * (1 + (x / 2)), DriftStatistics.ChiSquaredSurvival(x, 4), 1e-12);
        }
        Assert.Equal(0.05, DriftStatistics.ChiSquaredSurvival(3.841458820694124, 1), 1e-9);
        Assert.Equal(0.05, DriftStatistics.ChiSquaredSurvival(18.307038053275146, 10), 1e-9);
        Assert.Equal(0.05, DriftStatistics.KolmogorovSurvival(1.3580986393225505), 1e-6);
        Assert.Equal(Math.Log(24), DriftStatistics.LogGamma(5), 1e-12);
        Assert.Equal(0.5 * Math.Log(Math.PI), DriftStatistics.LogGamma(0.5), 1e-12);
        // PSI and Jensen-Shannon are 0 between equal proportions and grow apart.
        Assert.Equal(0, DriftStatistics.Psi([0.5, 0.5], [0.5, 0.5]), 1e-12);
        Assert.Equal((0.7 - 0.5) * Math.Log(0.7 / 0.5) + ((0.3 - 0.5) * Math.Log(0.3 / 0.5)), DriftStatistics.Psi([0.5, 0.5], [0.7, 0.3]), 1e-12);
        Assert.Equal(Math.Sqrt(Math.Log(2)), DriftStatistics.JensenShannon([1, 0], [0, 1]), 1e-3);
    }
}
