namespace Stratus.Ml.Drift;

/// <summary>
/// The statistics drift detection uses, on distribution sketches: cumulative distributions read off quantiles or
/// sorted values, the Kolmogorov-Smirnov statistic and p-value, Wasserstein-1, population stability index,
/// Jensen-Shannon distance and the chi-squared test of homogeneity.
/// </summary>
public static class DriftStatistics
{
    /// <summary>Proportions are floored at this before logarithms (PSI, Jensen-Shannon), as Evidently does.</summary>
    public const double Epsilon = 1e-4;

    /// <summary>
    /// The cumulative distribution at <paramref name="x"/> (or just below it, <paramref name="left"/>) of values given by
    /// their quantiles at evenly spaced levels: linear between quantiles, with a jump where several levels share a value.
    /// </summary>
    public static double CdfOfQuantiles(IReadOnlyList<double> q, double x, bool left)
    {
        var n = q.Count;
        var step = 1.0 / (n - 1);
        if (x < q[0] || (left && x <= q[0])) return 0;
        if (x > q[n - 1] || (!left && x >= q[n - 1])) return 1;
        if (!left)
        {
            var i = UpperBound(q, x) - 1; // the last level at or below x
            return q[i] == x ? i * step : (i + ((x - q[i]) / (q[i + 1] - q[i]))) * step;
        }
        var j = LowerBound(q, x); // the first level at or above x
        return q[j] == x ? j * step : (j - 1 + ((x - q[j - 1]) / (q[j] - q[j - 1]))) * step;
    }

    /// <summary>The empirical cumulative distribution of sorted values at <paramref name="x"/> (or just below it).</summary>
    public static double CdfOfValues(IReadOnlyList<double> sorted, double x, bool left) =>
        (double)(left ? LowerBound(sorted, x) : UpperBound(sorted, x)) / sorted.Count;

    /// <summary>
    /// The Kolmogorov-Smirnov statistic, the largest gap between two cumulative distributions, looked for at every point
    /// where either jumps or bends (both sides of each).
    /// </summary>
    public static double KolmogorovSmirnov(Func<double, bool, double> first, Func<double, bool, double> second, IEnumerable<double> points)
    {
        var d = 0.0;
        foreach (var x in points)
        {
            d = Math.Max(d, Math.Abs(first(x, false) - second(x, false)));
            d = Math.Max(d, Math.Abs(first(x, true) - second(x, true)));
        }
        return d;
    }

    /// <summary>
    /// The asymptotic p-value of a two-sample Kolmogorov-Smirnov statistic <paramref name="d"/> for samples of
    /// <paramref name="n"/> and <paramref name="m"/> values, with Stephens' small-sample correction.
    /// </summary>
    public static double KolmogorovSmirnovPValue(double d, long n, long m)
    {
        var en = Math.Sqrt((double)n * m / (n + m));
        var lambda = (en + 0.12 + (0.11 / en)) * d;
        return KolmogorovSurvival(lambda);
    }

    /// <summary>Q(λ) = 2 Σ (-1)^(k-1) exp(-2 k² λ²), the Kolmogorov distribution's upper tail.</summary>
    public static double KolmogorovSurvival(double lambda)
    {
        if (lambda < 0.2) return 1; // the series converges slowly here, to 1 within 1e-9
        double sum = 0, sign = 1;
        for (var k = 1; k <= 100; k++)
        {
            var term = sign * Math.Exp(-2 * k * k * lambda * lambda);
            sum += term;
            if (Math.Abs(term) < 1e-12) break;
            sign = -sign;
        }
        return Math.Clamp(2 * sum, 0, 1);
    }

    /// <summary>Wasserstein-1 distance between two distributions given by quantiles at the same evenly spaced levels: the mean gap between them.</summary>
    public static double Wasserstein(IReadOnlyList<double> first, IReadOnlyList<double> second)
    {
        // The trapezoid rule over the levels.
        double sum = 0;
        for (var i = 1; i < first.Count; i++) sum += (Math.Abs(first[i] - second[i]) + Math.Abs(first[i - 1] - second[i - 1])) / 2;
        return sum / (first.Count - 1);
    }

    /// <summary>The population stability index of <paramref name="actual"/> proportions against <paramref name="expected"/> ones (bin by bin).</summary>
    public static double Psi(IReadOnlyList<double> expected, IReadOnlyList<double> actual)
    {
        double psi = 0;
        for (var i = 0; i < expected.Count; i++)
        {
            var (e, a) = (Math.Max(expected[i], Epsilon), Math.Max(actual[i], Epsilon));
            psi += (a - e) * Math.Log(a / e);
        }
        return psi;
    }

    /// <summary>The Jensen-Shannon distance (the square root of the divergence, natural logarithm, as SciPy's) between two sets of proportions.</summary>
    public static double JensenShannon(IReadOnlyList<double> first, IReadOnlyList<double> second)
    {
        double p = 0, q = 0;
        for (var i = 0; i < first.Count; i++)
        {
            p += Math.Max(first[i], Epsilon);
            q += Math.Max(second[i], Epsilon);
        }
        double divergence = 0;
        for (var i = 0; i < first.Count; i++)
        {
            var (a, b) = (Math.Max(first[i], Epsilon) / p, Math.Max(second[i], Epsilon) / q);
            var mid = (a + b) / 2;
            divergence += (0.5 * a * Math.Log(a / mid)) + (0.5 * b * Math.Log(b / mid));
        }
        return Math.Sqrt(Math.Max(0, divergence));
    }

    /// <summary>
    /// The chi-squared test of homogeneity of two samples over the same categories (counts side by side): the statistic
    /// and its p-value (categories seen in neither sample are left out).
    /// </summary>
    public static (double Statistic, double PValue) ChiSquared(IReadOnlyList<double> first, IReadOnlyList<double> second)
    {
        var (n, m) = (first.Sum(), second.Sum());
        double statistic = 0;
        var categories = 0;
        for (var i = 0; i < first.Count; i++)
        {
            var column = first[i] + second[i];
            if (column <= 0) continue;
            categories++;
            var (e1, e2) = (n * column / (n + m), m * column / (n + m));
            statistic += ((first[i] - e1) * (first[i] - e1) / e1) + ((second[i] - e2) * (second[i] - e2) / e2);
        }
        return categories < 2 ? (0, 1) : (statistic, ChiSquaredSurvival(statistic, categories - 1));
    }

    /// <summary>P(X > x) for X chi-squared with <paramref name="dof"/> degrees of freedom: the regularized upper incomplete gamma Q(dof/2, x/2).</summary>
    public static double ChiSquaredSurvival(double x, int dof) => x <= 0 ? 1 : UpperGamma(dof / 2.0, x / 2);

    private static double UpperGamma(double a, double x)
    {
        var logPrefix = (a * Math.Log(x)) - x - LogGamma(a);
        if (x < a + 1)
        {
            // The series of the lower function P(a, x).
            double term = 1 / a, sum = term;
            for (var k = 1; k < 1000; k++)
            {
                term *= x / (a + k);
                sum += term;
                if (term < sum * 1e-15) break;
            }
            return Math.Clamp(1 - (sum * Math.Exp(logPrefix)), 0, 1);
        }
        // Lentz's continued fraction for Q(a, x).
        const double tiny = 1e-300;
        double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
        for (var i = 1; i < 1000; i++)
        {
            var an = -i * (i - a);
            b += 2;
            d = (an * d) + b;
            if (Math.Abs(d) < tiny) d = tiny;
            c = b + (an / c);
            if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            var delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-15) break;
        }
        return Math.Clamp(Math.Exp(logPrefix) * h, 0, 1);
    }

    /// <summary>ln Γ(x) for x > 0 (Lanczos, g = 7), exact to about 1e-15 relative.</summary>
    public static double LogGamma(double x)
    {
        ReadOnlySpan<double> g =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        x -= 1;
        var sum = g[0];
        for (var i = 1; i < g.Length; i++) sum += g[i] / (x + i);
        var t = x + 7.5;
        return (0.5 * Math.Log(2 * Math.PI)) + ((x + 0.5) * Math.Log(t)) - t + Math.Log(sum);
    }

    private static int LowerBound(IReadOnlyList<double> sorted, double x)
    {
        int lo = 0, hi = sorted.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] < x) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    private static int UpperBound(IReadOnlyList<double> sorted, double x)
    {
        int lo = 0, hi = sorted.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] <= x) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}
