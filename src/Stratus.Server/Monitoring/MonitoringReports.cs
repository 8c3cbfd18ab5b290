using Stratus.Ml.Drift;
using Stratus.Server.Hosting;
using Stratus.Server.Registry;
using Stratus.Server.Serving;

namespace Stratus.Server.Monitoring;

/// <summary>An endpoint's monitoring gathered for reading: drift over time per column, distributions against the baseline, performance, decisions.</summary>
public sealed class MonitoringReports(EndpointService endpoints, RegistryService registry, MonitoringService monitoring, FeedbackService feedback,
    PolicyService policies, TimeProvider clock)
{
    /// <summary>The report over the last <paramref name="days"/> days; distributions are of the latest drift check's window (or, before any, the last hour).</summary>
    public async Task<MonitoringReport> ReportAsync(string endpoint, double days, CancellationToken ct)
    {
        if (days <= 0 || days > 366 || double.IsNaN(days)) throw ProblemException.Invalid("days", $"is {days}; more than 0 and at most 366 days");
        var info = await endpoints.GetAsync(endpoint, ct);
        var version = await registry.GetVersionAsync(new ModelRef(info.Model.Name, info.Model.Version, null), ct);
        var to = clock.GetUtcNow();
        var from = to.AddDays(-days);
        var history = (await monitoring.HistoryAsync(endpoint, 1000, ct)).Where(r => r.CreatedAt >= from).Reverse().ToList();
        var latest = history.Count > 0 ? history[^1] : null;

        var series = new List<FeatureDriftSeries>();
        foreach (var column in latest is null ? [] : latest.Features.Append(latest.Prediction).OfType<FeatureDrift>().Select(f => f.Column))
        {
            var points = history.Select(r => (Report: r, Feature: r.Features.Append(r.Prediction).FirstOrDefault(f => f?.Column == column))).Where(p => p.Feature is not null)
                .Select(p => new DriftPoint(p.Report.Id, p.Report.To, p.Feature!.Status, p.Feature.Method, p.Feature.Score, p.Feature.Threshold, p.Feature.Statistics.GetValueOrDefault("psi")))
                .ToList();
            DateTimeOffset? since = null;
            for (var i = points.Count - 1; i >= 0 && points[i].Status == "drift"; i--)
            {
                var start = history.First(r => r.Id == points[i].ReportId).From;
                if (since is null || start < since) since = start; // windows may overlap: the earliest start of the unbroken run
            }
            series.Add(new FeatureDriftSeries(column, points.Count > 0 ? points[^1].Status : "insufficient_data", since, points));
        }

        var plots = new List<DistributionPlot>();
        ModelBaseline? baseline = null;
        try
        {
            baseline = await monitoring.BaselineAsync(version, ct);
        }
        catch (ProblemException ex) when (ex.Status == 409)
        {
            // A model without a baseline has nothing to plot against.
        }
        if (baseline is not null)
        {
            var (windowFrom, windowTo) = latest is not null && latest.Model == new ModelVersionRef(version.Name, version.Version) ? (latest.From, latest.To) : (to.AddHours(-1), to);
            var window = await monitoring.SketchWindowAsync(endpoint, version, baseline, windowFrom, windowTo, ct);
            plots.AddRange(baseline.Features.Select(f => DriftPlots.Histogram(f.Key, f.Value, window.Features[f.Key])));
            if (baseline.Prediction is { } prediction && window.Prediction is { } current) plots.Add(DriftPlots.Histogram(Baselines.Prediction, prediction, current));
        }

        var performance = await feedback.PerformanceAsync(endpoint, days * 1440, (int)Math.Clamp(Math.Ceiling(days), 1, 366), ct);
        IReadOnlyList<PolicyDecision> decisions = (await policies.DecisionsAsync(endpoint, 100, ct)).Where(d => d.CreatedAt >= from).ToList();
        return new MonitoringReport(endpoint, new ModelVersionRef(version.Name, version.Version), from, to, latest, series, plots, performance, decisions, to);
    }
}
