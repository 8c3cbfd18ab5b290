using System.Globalization;
using System.Text;
using static System.Net.WebUtility;

namespace Stratus.Cli;

/// <summary>
/// A monitoring report as one self-contained HTML page (no scripts, no downloads): a summary table, then per column its
/// distribution in the latest window over the baseline's and its drift score over time against the threshold, live
/// performance beside the validation metric, and the policy's decisions. Charts are inline SVG.
/// </summary>
internal static class ReportHtml
{
    private const string Baseline = "#9aa5b1", Current = "#1f6feb", Alarm = "#d1242f";

    public static string Render(MonitoringReport r)
    {
        var html = new StringBuilder();
        html.Append(CultureInfo.InvariantCulture, $$"""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Monitoring report: {{HtmlEncode(r.Endpoint)}}</title>
            <style>
            body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #1f2328; }
            table { border-collapse: collapse; margin: .5rem 0 1.5rem; } th, td { padding: .3rem .7rem; border-bottom: 1px solid #d0d7de; text-align: left; vertical-align: top; }
            .drift { color: {{Alarm}}; font-weight: 600; } .ok { color: #1a7f37; } .muted { color: #656d76; }
            .charts { display: flex; flex-wrap: wrap; gap: 1.5rem; margin-bottom: 1.5rem; } figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: .2rem; }
            .key span { display: inline-block; width: .8em; height: .8em; margin: 0 .3em 0 .8em; vertical-align: -1px; }
            </style></head><body>
            <h1>{{HtmlEncode(r.Endpoint)}}</h1>
            <p>Model <b>{{HtmlEncode($"{r.Model.Name}:{r.Model.Version}")}}</b>, from {{Time(r.From)}} to {{Time(r.To)}} (UTC).
            {{(r.Latest is { } l ? $"Latest drift check: <span class=\"{Css(l.Status)}\">{HtmlEncode(l.Status.Replace('_', ' '))}</span> over {l.Rows:N0} requests from {Time(l.From)} to {Time(l.To)}." : "No drift check in this period.")}}</p>
            """);

        html.Append("<h2>Drift by column</h2>");
        if (r.Features.Count == 0) html.Append("<p class=\"muted\">No drift checks yet: run <code>stratus monitor drift</code> or set a policy with a schedule.</p>");
        else
        {
            html.Append("<table><tr><th>Column</th><th>Status</th><th>Method</th><th>Score</th><th>Threshold</th><th>PSI</th><th>Drifting since</th></tr>");
            foreach (var f in r.Features)
            {
                var last = f.Points.Count > 0 ? f.Points[^1] : null;
                html.Append(CultureInfo.InvariantCulture, $"<tr><td>{HtmlEncode(f.Column)}</td><td class=\"{Css(f.Status)}\">{HtmlEncode(f.Status.Replace('_', ' '))}</td>" +
                    $"<td>{HtmlEncode(last?.Method)}</td><td>{Number(last?.Score)}</td><td>{Number(last?.Threshold)}</td><td>{Number(last?.Psi)}</td><td>{(f.DriftingSince is { } s ? Time(s) : "")}</td></tr>");
            }
            html.Append("</table>");
        }

        html.Append(CultureInfo.InvariantCulture, $"<h2>Distributions: latest window against the baseline</h2><p class=\"key\"><span style=\"background:{Baseline}\"></span>baseline (training data)<span style=\"background:{Current}\"></span>requests</p><div class=\"charts\">");
        foreach (var plot in r.Distributions)
        {
            var series = r.Features.FirstOrDefault(f => f.Column == plot.Column);
            html.Append(CultureInfo.InvariantCulture, $"<figure><figcaption>{HtmlEncode(plot.Column)} <span class=\"{Css(series?.Status ?? "")}\">{HtmlEncode(series?.Status.Replace('_', ' '))}</span></figcaption>");
            html.Append(Bars(plot));
            if (series is { Points.Count: > 1 }) html.Append(Line(series.Points.Select(p => (p.At, p.Score ?? double.NaN)).ToList(), series.Points[^1].Threshold, $"{series.Points[^1].Method} over time"));
            html.Append("</figure>");
        }
        html.Append("</div>");

        var metric = MetricCatalog.Primary(r.Performance.Task);
        var labelled = r.Performance.Windows.Where(w => w.Metrics.ContainsKey(metric)).ToList();
        html.Append("<h2>Live performance</h2>");
        if (labelled.Count == 0) html.Append("<p class=\"muted\">No labelled predictions in this period: send true labels with <code>stratus monitor feedback</code>.</p>");
        else
        {
            var validation = r.Performance.Baseline.TryGetValue(metric, out var v) ? v : double.NaN;
            html.Append(CultureInfo.InvariantCulture, $"<p>{HtmlEncode(metric)} on labelled predictions per window ({labelled.Sum(w => w.Labelled):N0} labels); dashed: on validation data ({Number(validation)}).</p>");
            html.Append(Line(labelled.Select(w => (w.From, w.Metrics[metric])).ToList(), validation, metric));
        }

        html.Append("<h2>Policy decisions</h2>");
        if (r.Decisions.Count == 0) html.Append("<p class=\"muted\">None in this period.</p>");
        else
        {
            html.Append("<table><tr><th>#</th><th>When</th><th>Trigger</th><th>Status</th><th>Evidence</th></tr>");
            foreach (var d in r.Decisions)
            {
                html.Append(CultureInfo.InvariantCulture, $"<tr><td>{d.Id}</td><td>{Time(d.UpdatedAt)}</td><td>{HtmlEncode(d.Trigger)}</td><td class=\"{Css(d.Status)}\">{HtmlEncode(d.Status.Replace('_', ' '))}</td>" +
                    $"<td>{string.Join("<br>", d.Reasons.Select(HtmlEncode))}</td></tr>");
            }
            html.Append("</table>");
        }
        html.Append(CultureInfo.InvariantCulture, $"<p class=\"muted\">Written by stratus monitor report at {Time(r.CreatedAt)} UTC.</p></body></html>\n");
        return html.ToString();
    }

    /// <summary>Baseline and current shares per bin as paired bars.</summary>
    private static string Bars(DistributionPlot plot)
    {
        const int width = 340, height = 150, top = 10, bottom = 30;
        var n = plot.Bins.Count;
        var max = Math.Max(1e-9, plot.Baseline.Concat(plot.Current).DefaultIfEmpty(0).Max());
        var slot = (double)width / Math.Max(1, n);
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"{HtmlEncode(plot.Column)} distribution\">");
        for (var i = 0; i < n; i++)
        {
            foreach (var (values, offset, color) in new[] { (plot.Baseline, 0.1, Baseline), (plot.Current, 0.5, Current) })
            {
                var h = values[i] / max * (height - top - bottom);
                svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F((i + offset) * slot)}\" y=\"{F(height - bottom - h)}\" width=\"{F(slot * 0.4)}\" height=\"{F(h)}\" fill=\"{color}\"><title>{HtmlEncode(plot.Bins[i])}: {values[i]:P1}</title></rect>");
            }
        }
        var first = plot.Edges is { } e ? e[0].ToString("G4", CultureInfo.InvariantCulture) : (n > 0 ? plot.Bins[0] : "");
        var last = plot.Edges is { } e2 ? e2[^1].ToString("G4", CultureInfo.InvariantCulture) : (n > 1 ? plot.Bins[^1] : "");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"0\" x2=\"{width}\" y1=\"{height - bottom}\" y2=\"{height - bottom}\" stroke=\"#d0d7de\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"{height - 10}\" font-size=\"11\">{HtmlEncode(first)}</text><text x=\"{width}\" y=\"{height - 10}\" font-size=\"11\" text-anchor=\"end\">{HtmlEncode(last)}</text></svg>");
        return svg.ToString();
    }

    /// <summary>A line over time with a dashed reference (a threshold or a validation score).</summary>
    private static string Line(List<(DateTimeOffset At, double Value)> points, double reference, string label)
    {
        const int width = 340, height = 120, left = 40, top = 10, bottom = 24;
        var values = points.Select(p => p.Value).Where(double.IsFinite).Append(reference).Where(double.IsFinite).ToList();
        var (low, high) = values.Count == 0 ? (0.0, 1.0) : (Math.Min(0, values.Min()), values.Max() * 1.1);
        if (!(high > low)) high = low + 1;
        var (t0, t1) = (points[0].At.ToUnixTimeMilliseconds(), Math.Max(points[0].At.ToUnixTimeMilliseconds() + 1, points[^1].At.ToUnixTimeMilliseconds()));
        double X(DateTimeOffset t) => left + ((double)(t.ToUnixTimeMilliseconds() - t0) / (t1 - t0) * (width - left - 5));
        double Y(double v) => top + ((high - v) / (high - low) * (height - top - bottom));
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"{HtmlEncode(label)}\">");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"{top + 4}\" font-size=\"11\">{F(high, "G3")}</text><text x=\"0\" y=\"{height - bottom}\" font-size=\"11\">{F(low, "G3")}</text>");
        if (double.IsFinite(reference))
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" x2=\"{width - 5}\" y1=\"{F(Y(reference))}\" y2=\"{F(Y(reference))}\" stroke=\"{Alarm}\" stroke-dasharray=\"4 3\"/>");
        var path = string.Join(" ", points.Where(p => double.IsFinite(p.Value)).Select(p => $"{F(X(p.At))},{F(Y(p.Value))}"));
        svg.Append(CultureInfo.InvariantCulture, $"<polyline points=\"{path}\" fill=\"none\" stroke=\"{Current}\" stroke-width=\"2\"/>");
        foreach (var p in points.Where(p => double.IsFinite(p.Value)))
            svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(X(p.At))}\" cy=\"{F(Y(p.Value))}\" r=\"3\" fill=\"{Current}\"><title>{Time(p.At)}: {F(p.Value, "G4")}</title></circle>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"{height - 6}\" font-size=\"11\">{HtmlEncode(label)}</text></svg>");
        return svg.ToString();
    }

    private static string Css(string status) => status switch { "drift" or "fired" or "retrain_failed" or "error" => "drift", "ok" or "promoted" => "ok", _ => "muted" };

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);

    private static string Number(double? v) => v is { } x && double.IsFinite(x) ? x.ToString("G4", CultureInfo.InvariantCulture) : "";

    private static string F(double v, string format = "0.#") => v.ToString(format, CultureInfo.InvariantCulture);
}
