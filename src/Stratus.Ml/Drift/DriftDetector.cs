namespace Stratus.Ml.Drift;

/// <summary>
/// Judges whether a column's current values drifted from its baseline. Defaults as Evidently's: a statistical test
/// while the window is small (Kolmogorov-Smirnov for numbers, chi-squared for categories, drift below p = 0.05),
/// a distance once it is large, where every test rejects on differences too small to matter (Wasserstein normed by
/// the baseline's standard deviation, Jensen-Shannon, drift above 0.1). Every statistic is computed either way.
/// </summary>
public static class DriftDetector
{
    /// <summary>Windows up to this many rows are tested; larger ones are measured by a distance.</summary>
    public const int TestRowsLimit = 1000;

    /// <summary>The fewest rows judged by default; fewer give <c>insufficient_data</c>.</summary>
    public const int DefaultMinRows = 30;

    public static IReadOnlyList<string> Methods { get; } = ["ks", "chisquare", "wasserstein", "psi", "jensenshannon"];

    /// <summary>The default method and threshold for a column of <paramref name="kind"/> with <paramref name="rows"/> values in the window.</summary>
    public static DriftRule DefaultRule(string kind, long rows) => (kind, rows <= TestRowsLimit) switch
    {
        (DriftSketches.Numeric, true) => new DriftRule("ks", 0.05),
        (DriftSketches.Numeric, false) => new DriftRule("wasserstein", 0.1),
        (_, true) => new DriftRule("chisquare", 0.05),
        _ => new DriftRule("jensenshannon", 0.1),
    };

    /// <summary>Checks that a rule names a method that applies to the kind of column.</summary>
    /// <returns>Why it does not, or null.</returns>
    public static string? Check(DriftRule rule, string kind)
    {
        if (!Methods.Contains(rule.Method)) return $"method '{rule.Method}' is not one of {string.Join(", ", Methods)}";
        if (rule.Method is "ks" or "wasserstein" && kind != DriftSketches.Numeric) return $"{rule.Method} applies to numeric columns; this one is categorical";
        if (rule.Method == "chisquare" && kind != DriftSketches.Categorical) return "chisquare applies to categorical columns; this one is numeric";
        if (!double.IsFinite(rule.Threshold) || rule.Threshold <= 0) return $"threshold {rule.Threshold} must be a positive number";
        return null;
    }

    /// <summary>Compares a column's window with its baseline.</summary>
    public static FeatureDrift Compare(string column, DistributionSketch baseline, DistributionSketch current, DriftRule? rule = null, int minRows = DefaultMinRows)
    {
        var rows = current.Count + current.Missing;
        var missingRate = rows == 0 ? 0 : (double)current.Missing / rows;
        var baselineMissingRate = baseline.Count + baseline.Missing == 0 ? 0 : (double)baseline.Missing / (baseline.Count + baseline.Missing);
        rule ??= DefaultRule(baseline.Kind, current.Count);
        if (current.Count < minRows || baseline.Count == 0)
            return new FeatureDrift(column, baseline.Kind, "insufficient_data", rule.Method, null, rule.Threshold, rows, missingRate, baselineMissingRate, new Dictionary<string, double>());

        var (statistics, newCategoryRate, outOfRange) = baseline.Kind == DriftSketches.Numeric ? Numeric(baseline, current) : Categorical(baseline, current);
        var score = rule.Method switch
        {
            "ks" => statistics["ks_p_value"],
            "chisquare" => statistics["chisquare_p_value"],
            "wasserstein" => statistics["wasserstein_normed"],
            _ => statistics[rule.Method],
        };
        // Tests drift on a small p-value; distances on a large value.
        var drifted = rule.Method is "ks" or "chisquare" ? score < rule.Threshold : score > rule.Threshold;
        return new FeatureDrift(column, baseline.Kind, drifted ? "drift" : "ok", rule.Method, score, rule.Threshold, rows, missingRate, baselineMissingRate, statistics,
            newCategoryRate, outOfRange);
    }

    private static (Dictionary<string, double>, double?, double?) Numeric(DistributionSketch baseline, DistributionSketch current)
    {
        var b = baseline.Quantiles!;
        Func<double, bool, double> baseCdf = (x, left) => DriftStatistics.CdfOfQuantiles(b, x, left);
        Func<double, bool, double> currentCdf = current.Values is { Count: > 0 } values
            ? (x, left) => DriftStatistics.CdfOfValues(values, x, left)
            : (x, left) => DriftStatistics.CdfOfQuantiles(current.Quantiles!, x, left);
        var points = b.Concat(current.Values ?? current.Quantiles!).Distinct();
        var ks = DriftStatistics.KolmogorovSmirnov(baseCdf, currentCdf, points);
        var wasserstein = DriftStatistics.Wasserstein(b, current.Quantiles!);
        var std = baseline.Std ?? 0;

        // PSI and Jensen-Shannon over the baseline's deciles (bins of a tenth of it each, fewer where values repeat).
        var edges = Enumerable.Range(1, 9).Select(i => b[i * (b.Count - 1) / 10]).Distinct().ToList();
        var (expected, actual) = (Bins(baseCdf, edges), Bins(currentCdf, edges));
        var statistics = new Dictionary<string, double>
        {
            ["ks"] = ks,
            ["ks_p_value"] = DriftStatistics.KolmogorovSmirnovPValue(ks, baseline.Count, current.Count),
            ["wasserstein"] = wasserstein,
            // A constant baseline has no deviation to norm by: any change of value is all of it.
            ["wasserstein_normed"] = std > 0 ? wasserstein / std : wasserstein > 0 ? double.MaxValue : 0,
            ["psi"] = DriftStatistics.Psi(expected, actual),
            ["jensenshannon"] = DriftStatistics.JensenShannon(expected, actual),
        };
        var outOfRange = currentCdf(b[0], true) + (1 - currentCdf(b[^1], false));
        return (statistics, null, outOfRange);
    }

    /// <summary>The share of values in each bin between consecutive edges (and below the first, above the last).</summary>
    private static double[] Bins(Func<double, bool, double> cdf, List<double> edges)
    {
        var bins = new double[edges.Count + 1];
        var below = 0.0;
        for (var i = 0; i < edges.Count; i++)
        {
            var at = cdf(edges[i], false);
            bins[i] = at - below;
            below = at;
        }
        bins[^1] = 1 - below;
        return bins;
    }

    private static (Dictionary<string, double>, double?, double?) Categorical(DistributionSketch baseline, DistributionSketch current)
    {
        var categories = baseline.Counts!.Keys.Union(current.Counts!.Keys).ToList();
        double[] first = [.. categories.Select(c => (double)baseline.Counts!.GetValueOrDefault(c))];
        double[] second = [.. categories.Select(c => (double)current.Counts!.GetValueOrDefault(c))];
        var (n, m) = (first.Sum(), second.Sum());
        var (chi, p) = DriftStatistics.ChiSquared(first, second);
        double[] expected = [.. first.Select(v => v / n)];
        double[] actual = [.. second.Select(v => v / m)];
        var unseen = current.Counts!.Where(c => !baseline.Counts!.ContainsKey(c.Key)).Sum(c => c.Value);
        var statistics = new Dictionary<string, double>
        {
            ["chisquare"] = chi,
            ["chisquare_p_value"] = p,
            ["psi"] = DriftStatistics.Psi(expected, actual),
            ["jensenshannon"] = DriftStatistics.JensenShannon(expected, actual),
        };
        return (statistics, unseen / m, null);
    }
}
