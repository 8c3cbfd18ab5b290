using Stratus.Server.Kernel;
using Stratus.Server.Serving;

namespace Stratus.Server.Monitoring;

/// <summary>An endpoint's monitoring gathered for reading: drift over time per column, distributions against the baseline, performance, decisions.</summary>
public sealed class MonitoringReports(EndpointService endpoints, MonitoringService monitoring, FeedbackService feedback,
    PolicyService policies, TimeProvider clock)
{
    /// <summary>The report over the last <paramref name="days"/> days; distributions are those the latest drift check kept of its window.</summary>
    public async Task<MonitoringReport> ReportAsync(string endpoint, double days, CancellationToken ct)
    {
        if (days <= 0 || days > 366 || double.IsNaN(days)) throw ProblemException.Invalid("days", $"is {days}; more than 0 and at most 366 days");
        var info = await endpoints.GetAsync(endpoint, ct);
        var to = clock.GetUtcNow();
        var from = to.AddDays(-days);
        var history = (await monitoring.HistoryAsync(endpoint, 1000, ct, since: from)).Reverse().ToList();
        var latest = history.Count > 0 ? history[^1] : null;

        var series = new List<FeatureDriftSeries>();
        foreach (var column in latest is null ? [] : latest.Features.Append(latest.Prediction).OfType<FeatureDrift>().Select(f => f.Column))
        {
            var readings = history.Select(r => (Report: r, Feature: r.Features.Append(r.Prediction).FirstOrDefault(f => f?.Column == column))).Where(x => x.Feature is not null)
                .Select(x => (x.Report.From, Point: new DriftPoint(x.Report.Id, x.Report.To, x.Feature!.Status, x.Feature.Method, x.Feature.Score, x.Feature.Threshold,
                    x.Feature.Statistics.GetValueOrDefault("psi"))))
                .ToList();
            var points = readings.ConvertAll(x => x.Point);
            // Since when: the earliest start among the unbroken run of drifted windows up to now (windows may overlap).
            var since = Enumerable.Reverse(readings).TakeWhile(x => x.Point.Status == "drift").Select(x => (DateTimeOffset?)x.From).Min();
            series.Add(new FeatureDriftSeries(column, points.Count > 0 ? points[^1].Status : "insufficient_data", since, points));
        }

        var plots = latest is null ? [] : await monitoring.PlotsAsync(latest.Id, ct);

        var performance = await feedback.PerformanceAsync(endpoint, days * 1440, (int)Math.Clamp(Math.Ceiling(days), 1, 366), ct);
        IReadOnlyList<PolicyDecision> decisions = (await policies.DecisionsAsync(endpoint, 100, ct)).Where(d => d.CreatedAt >= from).ToList();
        return new MonitoringReport(endpoint, info.Model, from, to, latest, series, plots, performance, decisions, to);
    }
}
