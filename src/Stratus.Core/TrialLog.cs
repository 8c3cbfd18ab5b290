using System.Globalization;
using System.Text.RegularExpressions;

namespace Stratus;

/// <summary>
/// The AutoML search's log line for an ended trial, "trial 7 ok: lightgbm auc 0.9512 in 1.2 s (best 0.9544)": written
/// by the search, read by the CLI and the console to grow a leaderboard while the job runs.
/// </summary>
public static partial class TrialLog
{
    public static string Format(int number, string status, string trainer, string metric, double? score, double seconds, double? best) =>
        string.Create(CultureInfo.InvariantCulture,
            $"trial {number} {status}: {trainer} {metric} {(score is { } s ? s.ToString("F4", CultureInfo.InvariantCulture) : "-")} in {seconds:F1} s (best {(best is { } b ? b.ToString("F4", CultureInfo.InvariantCulture) : "-")})");

    /// <summary>The trial a log line reports, and the metric its score is in; false for any other line.</summary>
    public static bool TryParse(string line, out TrialInfo trial, out string metric)
    {
        var m = Line().Match(line);
        (trial, metric) = (null!, "");
        if (!m.Success) return false;
        metric = m.Groups["metric"].Value;
        double? score = double.TryParse(m.Groups["score"].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;
        trial = new TrialInfo(int.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture), m.Groups["trainer"].Value, m.Groups["status"].Value, score,
            double.Parse(m.Groups["seconds"].Value, CultureInfo.InvariantCulture), new Dictionary<string, string>(), null);
        return true;
    }

    /// <summary>Trials with a score, best first.</summary>
    public static IEnumerable<TrialInfo> Rank(IEnumerable<TrialInfo> trials, string metric) =>
        trials.Where(t => t.Score is not null).OrderByDescending(t => MetricCatalog.HigherIsBetter(metric) ? t.Score : -t.Score).ThenBy(t => t.Number);

    [GeneratedRegex(@"^trial (?<n>\d+) (?<status>\w+): (?<trainer>\S+) (?<metric>\S+) (?<score>\S+) in (?<seconds>[\d.]+) s")]
    private static partial Regex Line();
}
