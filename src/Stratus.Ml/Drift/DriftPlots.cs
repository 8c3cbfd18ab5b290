using System.Globalization;

namespace Stratus.Ml.Drift;

/// <summary>Histograms of a baseline and a window on common bins, for plotting one over the other.</summary>
public static class DriftPlots
{
    /// <summary>
    /// Numbers: <paramref name="bins"/> equal-width bins over both distributions' range between their 0.5th and 99.5th
    /// percentiles (the outermost bins take the tails). Categories: the most frequent categories of both, the rest as "(other)".
    /// </summary>
    public static DistributionPlot Histogram(string column, DistributionSketch baseline, DistributionSketch current, int bins = 20)
    {
        if (baseline.Kind == DriftSketches.Categorical) return Categories(column, baseline, current, bins);
        Func<double, double> baseCdf = x => DriftStatistics.CdfOfQuantiles(baseline.Quantiles!, x, false);
        Func<double, double> currentCdf = current.Values is { Count: > 0 } values ? x => DriftStatistics.CdfOfValues(values, x, false)
            : current.Quantiles is { Count: > 0 } q ? x => DriftStatistics.CdfOfQuantiles(q, x, false)
            : _ => double.NaN;
        var b = baseline.Quantiles!;
        var c = current.Values is { Count: > 0 } v ? v : current.Quantiles;
        var low = Math.Min(b[5 * (b.Count - 1) / 1000], c is { Count: > 0 } ? c[(int)(0.005 * (c.Count - 1))] : double.PositiveInfinity);
        var high = Math.Max(b[995 * (b.Count - 1) / 1000], c is { Count: > 0 } ? c[(int)(0.995 * (c.Count - 1))] : double.NegativeInfinity);
        if (!(high > low)) high = low + 1;
        var edges = Enumerable.Range(0, bins + 1).Select(i => low + ((high - low) * i / bins)).ToList();
        double[] Shares(Func<double, double> cdf)
        {
            var shares = new double[bins];
            for (var i = 0; i < bins; i++)
            {
                var upper = i == bins - 1 ? 1 : cdf(edges[i + 1]);
                var lower = i == 0 ? 0 : cdf(edges[i]);
                shares[i] = Math.Max(0, upper - lower);
            }
            return shares;
        }
        var labels = edges.Take(bins).Select((e, i) => $"{Format(e)}-{Format(edges[i + 1])}").ToList();
        return new DistributionPlot(column, baseline.Kind, labels, edges, Shares(baseCdf), current.Count > 0 ? Shares(currentCdf) : new double[bins]);
    }

    private static DistributionPlot Categories(string column, DistributionSketch baseline, DistributionSketch current, int most)
    {
        var (b, c) = (baseline.Counts ?? new Dictionary<string, long>(), current.Counts ?? new Dictionary<string, long>());
        var (bTotal, cTotal) = (Math.Max(1, b.Values.Sum()), Math.Max(1, c.Values.Sum()));
        double Share(IReadOnlyDictionary<string, long> counts, string key, long total) => (double)counts.GetValueOrDefault(key) / total;
        var keys = b.Keys.Union(c.Keys).OrderByDescending(k => Share(b, k, bTotal) + Share(c, k, cTotal)).ThenBy(k => k, StringComparer.Ordinal).ToList();
        var shown = keys.Take(keys.Count > most ? most - 1 : most).ToList();
        var baseShares = shown.Select(k => Share(b, k, bTotal)).ToList();
        var currentShares = shown.Select(k => Share(c, k, cTotal)).ToList();
        if (shown.Count < keys.Count)
        {
            shown.Add("(other)");
            baseShares.Add(1 - baseShares.Sum());
            currentShares.Add(c.Count == 0 ? 0 : 1 - currentShares.Sum());
        }
        return new DistributionPlot(column, baseline.Kind, shown, null, baseShares, currentShares);
    }

    private static string Format(double value) => value.ToString("G4", CultureInfo.InvariantCulture);
}
