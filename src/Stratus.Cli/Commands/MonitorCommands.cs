using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Stratus.Ml.Data;
using static Stratus.Cli.GlobalOptions;

namespace Stratus.Cli.Commands;

/// <summary><c>stratus monitor …</c>: drift, live performance, and the policies that retrain and promote by themselves.</summary>
internal static class MonitorCommands
{
    public static Command Create()
    {
        var command = new Command("monitor", "Watch endpoints: drift of their requests and predictions from the model's training data");
        var endpoint = new Argument<string>("endpoint") { Description = "Endpoint name" };

        var window = new Option<double>("--window-minutes") { Description = "Check the requests captured in the last this many minutes", DefaultValueFactory = _ => 60 };
        var rules = new Option<string[]>("--rule")
        {
            Description = "COLUMN=METHOD:THRESHOLD instead of the default for a column (prediction for the predictions); methods: ks, chisquare, wasserstein, psi, jensenshannon",
            AllowMultipleArgumentsPerToken = false,
        };
        var drift = new Command("drift", "Compare an endpoint's captured requests with its model's baseline, column by column (the report is kept)") { endpoint, window, rules };
        drift.SetAction(Remote(async (result, client, ct) =>
        {
            var parsed = (result.GetValue(rules) ?? []).Select(ParseRule).ToDictionary(r => r.Column, r => r.Rule);
            var report = await client.Monitoring.CheckDriftAsync(result.GetValue(endpoint)!, new DriftCheckRequest(result.GetValue(window), parsed.Count > 0 ? parsed : null), ct);
            Print(result, report, StratusJsonContext.Default.DriftReport, Show);
        }));
        command.Subcommands.Add(drift);

        var limit = new Option<int>("--limit") { Description = "How many reports to show", DefaultValueFactory = _ => 20 };
        var history = new Command("history", "An endpoint's drift reports, newest first") { endpoint, limit };
        history.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Monitoring.DriftHistoryAsync(result.GetValue(endpoint)!, result.GetValue(limit), ct), StratusJsonContext.Default.IReadOnlyListDriftReport, reports =>
            {
                var table = NewTable("Checked", "Minutes", "Model", "Rows", "Status", "Drifted");
                foreach (var r in reports)
                {
                    table.AddRow(When(r.CreatedAt), (r.To - r.From).TotalMinutes.ToString("G4", CultureInfo.InvariantCulture), Esc($"{r.Model.Name}:{r.Model.Version}"), r.Rows.ToString("N0", CultureInfo.InvariantCulture),
                        Status(r.Status), Esc(string.Join(", ", r.Features.Append(r.Prediction).Where(f => f?.Status == "drift").Select(f => f!.Column))));
                }
                AnsiConsole.Write(table);
            })));
        command.Subcommands.Add(history);
        var file = new Option<FileInfo>("--file") { Description = "A CSV with columns request_id and label (and row, for requests of several rows)", Required = true };
        var feedback = new Command("feedback", "Send true labels for an endpoint's captured predictions") { endpoint, file };
        feedback.SetAction(Remote(async (result, client, ct) =>
        {
            var items = ReadLabels(result.GetValue(file)!);
            var stored = await client.Monitoring.FeedbackAsync(result.GetValue(endpoint)!, items, ct);
            Print(result, stored, StratusJsonContext.Default.FeedbackResult, r => AnsiConsole.MarkupLine($"Stored {r.Accepted:N0} labels"));
        }));
        command.Subcommands.Add(feedback);

        var performanceWindow = new Option<double>("--window-minutes") { Description = "How far back to look", DefaultValueFactory = _ => 1440 };
        var buckets = new Option<int>("--buckets") { Description = "Into how many windows to divide it", DefaultValueFactory = _ => 24 };
        var performance = new Command("performance", "An endpoint's model measured on labelled predictions, window by window, beside its validation metrics") { endpoint, performanceWindow, buckets };
        performance.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Monitoring.PerformanceAsync(result.GetValue(endpoint)!, result.GetValue(performanceWindow), result.GetValue(buckets), ct),
                StratusJsonContext.Default.PerformanceReport, r =>
                {
                    var names = r.Baseline.Keys.Order(StringComparer.Ordinal).ToList();
                    AnsiConsole.MarkupLine($"Endpoint [bold]{Esc(r.Endpoint)}[/], {Esc(r.Model.Name)}:{r.Model.Version} ({Esc(r.Task)}); validation: " +
                        Esc(string.Join(", ", names.Select(n => $"{n} {r.Baseline[n]:F4}"))));
                    var table = NewTable(["From", "Labelled", .. names]);
                    foreach (var w in r.Windows.Where(w => w.Labelled > 0))
                        table.AddRow([When(w.From), w.Labelled.ToString("N0", CultureInfo.InvariantCulture), .. names.Select(n => w.Metrics.TryGetValue(n, out var v) ? v.ToString("F4", CultureInfo.InvariantCulture) : "")]);
                    AnsiConsole.Write(table);
                })));
        command.Subcommands.Add(performance);
        AddPolicyCommands(command, endpoint);

        var model = new Argument<string>("model") { Description = "Model version: NAME:VERSION, NAME@ALIAS or NAME (latest)" };
        var baselineDataset = new Option<string>("--dataset") { Description = "Set the baseline from this dataset version (NAME or NAME:VERSION): its inputs and the model's predictions on them" };
        var baseline = new Command("baseline", "Show a model version's baseline, or set it from a dataset (imported models bring none)") { model, baselineDataset };
        baseline.SetAction(Remote(async (result, client, ct) =>
        {
            var version = await client.Models.ResolveAsync(result.GetValue(model)!, ct);
            var data = result.GetValue(baselineDataset) is { } dataset
                ? await client.Monitoring.SetBaselineAsync(version.Name, version.Version, dataset, ct)
                : await client.Monitoring.BaselineAsync(version.Name, version.Version, ct);
            Print(result, data, StratusJsonContext.Default.ModelBaseline, b =>
            {
                AnsiConsole.MarkupLine($"Baseline of [bold]{Esc(version.Name)}:{version.Version}[/] ({b.Rows:N0} rows; {Esc(b.Source)})");
                var table = NewTable("Column", "Kind", "Rows", "Missing", "Mean", "Std", "Categories");
                foreach (var (column, sketch) in b.Features.Append(new(Stratus.Ml.Drift.Baselines.Prediction, b.Prediction!)).Where(f => f.Value is not null))
                {
                    table.AddRow(Esc(column), Esc(sketch.Kind), sketch.Count.ToString("N0", CultureInfo.InvariantCulture), sketch.Missing.ToString("N0", CultureInfo.InvariantCulture),
                        sketch.Mean?.ToString("G4", CultureInfo.InvariantCulture) ?? "", sketch.Std?.ToString("G4", CultureInfo.InvariantCulture) ?? "",
                        sketch.Counts?.Count.ToString(CultureInfo.InvariantCulture) ?? "");
                }
                AnsiConsole.Write(table);
            });
        }));
        command.Subcommands.Add(baseline);

        var days = new Option<double>("--days") { Description = "How far back the report looks", DefaultValueFactory = _ => 7 };
        var html = new Option<FileInfo>("--html") { Description = "Where to write the HTML report with its plots (default: ENDPOINT-monitoring.html here)" };
        var report = new Command("report", "Summarize an endpoint's monitoring (which columns drift, by how much, since when; performance; decisions) and write it as HTML with plots")
            { endpoint, days, html };
        report.SetAction(Remote(async (result, client, ct) =>
        {
            var name = result.GetValue(endpoint)!;
            var data = await client.Monitoring.ReportAsync(name, result.GetValue(days), ct);
            var path = (result.GetValue(html) ?? new FileInfo($"{name}-monitoring.html")).FullName;
            var temp = path + ".part";
            await File.WriteAllTextAsync(temp, ReportHtml.Render(data), ct);
            File.Move(temp, path, overwrite: true);
            Print(result, data, StratusJsonContext.Default.MonitoringReport, r => ShowReport(r, path));
        }));
        command.Subcommands.Add(report);
        return command;
    }

    private static void AddPolicyCommands(Command command, Argument<string> endpoint)
    {
        var driftTrigger = new Option<string>("--drift") { Description = "Fire on drift: psi>0.2, js>0.1, wasserstein>0.1, ks>0.2 (any column or the predictions), share>0.5 (of columns drifted), or drift (the check's verdict)" };
        var metricTrigger = new Option<string>("--metric") { Description = "Fire on decay of live performance from feedback: auc<0.85, accuracy<0.9, rmse>3.5..." };
        var schedule = new Option<string>("--schedule") { Description = "When to check, cron in UTC: \"0 3 * * *\" (five fields, or six with seconds); none: only stratus monitor run" };
        var window = new Option<double>("--window-minutes") { Description = "The window of requests each check reads", DefaultValueFactory = _ => 1440 };
        var minRows = new Option<int>("--min-rows") { Description = "Requests (or labels) a window needs to be judged", DefaultValueFactory = _ => 30 };
        var retrain = new Option<string>("--retrain") { Description = "What to do when a trigger fires: train (the champion's trainer) or automl:120s; none: alert only" };
        var promote = new Option<string>("--promote") { Description = "if-better: promote a challenger that beats the champion on the holdout by the margin; never: only record", DefaultValueFactory = _ => "if-better" };
        var margin = new Option<double>("--margin") { Description = "How much better (absolute) the challenger's score must be", DefaultValueFactory = _ => 0.005 };
        var withFeedback = new Option<bool>("--with-feedback") { Description = "Add labelled feedback (captured inputs with their true labels) to the training data" };
        var alias = new Option<string>("--alias") { Description = "Alias moved to a promoted challenger", DefaultValueFactory = _ => "champion" };
        var canary = new Option<int>("--canary") { Description = "Percent of traffic a promoted challenger starts with", DefaultValueFactory = _ => 10 };
        var step = new Option<int>("--step") { Description = "Percent added after each healthy interval", DefaultValueFactory = _ => 10 };
        var interval = new Option<string>("--interval") { Description = "Time between rollout steps: 30s, 1m, 1h", DefaultValueFactory = _ => "1m" };
        var webhooks = new Option<string[]>("--webhook") { Description = "URL told (POST, JSON) when the policy fires, promotes, keeps or fails, or secret:NAME for a URL kept as a secret (stratus secrets set); repeat for more" };
        var policyRules = new Option<string[]>("--rule") { Description = "COLUMN=METHOD:THRESHOLD instead of the default drift test for a column in the policy's checks", AllowMultipleArgumentsPerToken = false };
        var set = new Command("set", "Set an endpoint's monitoring policy: what fires it, when it is checked, how it retrains and promotes")
            { endpoint, driftTrigger, metricTrigger, schedule, window, minRows, retrain, promote, margin, withFeedback, alias, canary, step, interval, webhooks, policyRules };
        set.SetAction(Remote(async (result, client, ct) =>
        {
            var policy = new MonitorPolicy(result.GetValue(driftTrigger), result.GetValue(metricTrigger), result.GetValue(schedule), result.GetValue(window), result.GetValue(minRows),
                result.GetValue(retrain), result.GetValue(promote)!, result.GetValue(margin), result.GetValue(withFeedback), result.GetValue(alias)!, result.GetValue(canary),
                result.GetValue(step), AutoMlCommand.Seconds(result.GetValue(interval)!, "--interval"), result.GetValue(webhooks) is { Length: > 0 } urls ? urls : null,
                result.GetValue(policyRules) is { Length: > 0 } given ? given.Select(ParseRule).ToDictionary(r => r.Column, r => r.Rule) : null);
            Print(result, await client.Monitoring.SetPolicyAsync(result.GetValue(endpoint)!, policy, ct), StratusJsonContext.Default.MonitorPolicyInfo, ShowPolicy);
        }));
        command.Subcommands.Add(set);

        var show = new Command("policy", "An endpoint's monitoring policy and when it is next checked") { endpoint };
        show.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Monitoring.GetPolicyAsync(result.GetValue(endpoint)!, ct), StratusJsonContext.Default.MonitorPolicyInfo, ShowPolicy)));
        command.Subcommands.Add(show);

        var unset = new Command("unset", "Remove an endpoint's monitoring policy (its decisions are kept)") { endpoint };
        unset.SetAction(Remote(async (result, client, ct) =>
        {
            await client.Monitoring.DeletePolicyAsync(result.GetValue(endpoint)!, ct);
            AnsiConsole.MarkupLine($"Removed the policy of {Esc(result.GetValue(endpoint))}");
        }));
        command.Subcommands.Add(unset);

        var run = new Command("run", "Run an endpoint's policy now: check its triggers, and when one fires, alert and start the retraining") { endpoint };
        run.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Monitoring.RunPolicyAsync(result.GetValue(endpoint)!, ct), StratusJsonContext.Default.PolicyDecision, ShowDecision)));
        command.Subcommands.Add(run);

        var limit = new Option<int>("--limit") { Description = "How many decisions to show", DefaultValueFactory = _ => 20 };
        var decisions = new Command("decisions", "What an endpoint's policy decided and why, newest first") { endpoint, limit };
        decisions.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Monitoring.DecisionsAsync(result.GetValue(endpoint)!, result.GetValue(limit), ct), StratusJsonContext.Default.IReadOnlyListPolicyDecision, list =>
            {
                var table = NewTable("#", "When", "Trigger", "Status", "Champion", "Challenger", "Why");
                foreach (var d in list)
                {
                    table.AddRow(d.Id.ToString(CultureInfo.InvariantCulture), When(d.UpdatedAt), Esc(d.Trigger), Status(d.Status), Esc($"{d.Champion.Name}:{d.Champion.Version}"),
                        d.Challenger is { } c ? Esc($"{c.Name}:{c.Version}") : "", Esc(d.Reasons.Count > 0 ? d.Reasons[^1] : ""));
                }
                AnsiConsole.Write(table);
            })));
        command.Subcommands.Add(decisions);
    }

    private static void ShowReport(MonitoringReport r, string path)
    {
        AnsiConsole.MarkupLine($"Endpoint [bold]{Esc(r.Endpoint)}[/] serving {Esc(r.Model.Name)}:{r.Model.Version}, {When(r.From)} to {When(r.To)}");
        if (r.Latest is null) AnsiConsole.MarkupLine("No drift check in this period (stratus monitor drift, or a policy with a schedule).");
        else
        {
            var drifting = r.Features.Where(f => f.Status == "drift").ToList();
            AnsiConsole.MarkupLine($"Latest check: {Status(r.Latest.Status)} over {r.Latest.Rows:N0} requests; " +
                (drifting.Count == 0 ? "no column drifts" : $"drifting: {Esc(string.Join(", ", drifting.Select(f => f.Column)))}"));
            var table = NewTable("Column", "Status", "Method", "Score", "Threshold", "PSI", "Checks", "Drifting since");
            foreach (var f in r.Features)
            {
                var last = f.Points[^1];
                table.AddRow(Esc(f.Column), Status(f.Status), Esc(last.Method), last.Score?.ToString("G4", CultureInfo.InvariantCulture) ?? "", last.Threshold.ToString("G4", CultureInfo.InvariantCulture),
                    last.Psi?.ToString("F3", CultureInfo.InvariantCulture) ?? "", f.Points.Count.ToString(CultureInfo.InvariantCulture), When(f.DriftingSince));
            }
            AnsiConsole.Write(table);
        }
        var labelled = r.Performance.Windows.Sum(w => w.Labelled);
        if (labelled > 0) AnsiConsole.MarkupLine($"Live performance from {labelled:N0} labels: stratus monitor performance {Esc(r.Endpoint)}");
        if (r.Decisions.Count > 0) AnsiConsole.MarkupLine($"Policy decisions: {Esc(string.Join(", ", r.Decisions.GroupBy(d => d.Status).Select(g => $"{g.Count()} {g.Key.Replace('_', ' ')}")))}");
        AnsiConsole.MarkupLine($"Report with plots: {Esc(path)}");
    }

    private static void ShowPolicy(MonitorPolicyInfo info)
    {
        var p = info.Policy;
        var triggers = string.Join(" or ", new[] { p.Drift is null ? null : $"drift {p.Drift}", p.Metric is null ? null : $"metric {p.Metric}" }.OfType<string>());
        AnsiConsole.MarkupLine($"Policy of [bold]{Esc(info.Endpoint)}[/]: fires on {Esc(triggers)} over the last {p.WindowMinutes:G4} minutes (at least {p.MinRows} rows)");
        AnsiConsole.MarkupLine(p.Schedule is null ? "Checked on demand only (stratus monitor run)" : $"Checked on schedule {Esc(p.Schedule)} (UTC); next {When(info.NextCheckAt)}");
        AnsiConsole.MarkupLine(p.Retrain is null ? "When it fires: alert only"
            : $"When it fires: retrain ({Esc(p.Retrain)}{(p.WithFeedback ? ", with feedback" : "")}), promote {Esc(p.Promote)} by {p.Margin:G4} (alias {Esc(p.Alias)}, canary {p.Canary}% +{p.Step}% every {p.IntervalSeconds} s)");
        if (p.Webhooks is { Count: > 0 }) AnsiConsole.MarkupLine($"Webhooks: {Esc(string.Join(", ", p.Webhooks))}");
    }

    private static void ShowDecision(PolicyDecision d)
    {
        AnsiConsole.MarkupLine($"Decision {d.Id} for [bold]{Esc(d.Endpoint)}[/] ({Esc(d.Trigger)}): {Status(d.Status)}");
        foreach (var reason in d.Reasons) AnsiConsole.MarkupLine($"  - {Esc(reason)}");
        if (d.JobId is not null) AnsiConsole.MarkupLine($"Follow the retraining with: stratus jobs show {Esc(d.JobId)}; then stratus monitor decisions {Esc(d.Endpoint)}");
    }

    /// <summary>
    /// Labels from a CSV of request_id, label and optionally row, checked and read as an upload is (quoted fields may
    /// hold commas); a label that reads as a number is sent as one.
    /// </summary>
    private static List<FeedbackItem> ReadLabels(FileInfo file)
    {
        if (!file.Exists) throw new ArgumentException($"--file: {file.FullName} does not exist");
        try
        {
            using var records = CsvValidator.Records(file.FullName).GetEnumerator();
            var header = records.MoveNext() ? records.Current.Fields.Select(h => h.Trim()).ToList() : [];
            var (id, label, row) = (header.IndexOf("request_id"), header.IndexOf("label"), header.IndexOf("row"));
            if (id < 0 || label < 0) throw new ArgumentException($"--file: {file.Name} needs the columns request_id and label; its header is '{string.Join(',', header)}'");
            var items = new List<FeedbackItem>();
            while (records.MoveNext())
            {
                var (line, cells) = records.Current;
                var value = cells[label].Trim();
                var json = System.Text.Json.JsonDocument.Parse(double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number)
                    ? number.ToString("R", CultureInfo.InvariantCulture)
                    : "\"" + System.Text.Json.JsonEncodedText.Encode(value) + "\"").RootElement.Clone();
                var index = 0;
                if (row >= 0 && !int.TryParse(cells[row], NumberStyles.None, CultureInfo.InvariantCulture, out index)) throw new ArgumentException($"--file: line {line}: row '{cells[row]}' is not a row number");
                items.Add(new FeedbackItem(cells[id].Trim(), json, index));
            }
            return items;
        }
        catch (DataFormatException ex)
        {
            throw new ArgumentException($"--file: {file.Name}: {ex.Message}");
        }
    }

    private static string Status(string status) => status switch
    {
        "drift" or "fired" or "retrain_failed" or "error" => $"[red]{Esc(status.Replace('_', ' '))}[/]",
        "ok" or "promoted" => $"[green]{status}[/]",
        _ => "[yellow]" + Esc(status.Replace('_', ' ')) + "[/]",
    };

    private static void Show(DriftReport r)
    {
        AnsiConsole.MarkupLine($"Endpoint [bold]{Esc(r.Endpoint)}[/] against {Esc(r.Model.Name)}:{r.Model.Version}'s baseline, {r.Rows:N0} requests from {When(r.From)} to {When(r.To)}: {Status(r.Status)}" +
            (r.Status == "drift" ? $" ({r.Drifted} column{(r.Drifted == 1 ? "" : "s")})" : ""));
        var table = NewTable("Column", "Status", "Method", "Score", "Threshold", "Rows", "Missing", "PSI");
        foreach (var f in r.Features.Append(r.Prediction).OfType<FeatureDrift>())
        {
            table.AddRow(Esc(f.Column), Status(f.Status), Esc(f.Method), f.Score?.ToString("G4", CultureInfo.InvariantCulture) ?? "", f.Threshold.ToString("G4", CultureInfo.InvariantCulture),
                f.Rows.ToString("N0", CultureInfo.InvariantCulture), f.MissingRate.ToString("P1", CultureInfo.InvariantCulture),
                f.Statistics.TryGetValue("psi", out var psi) ? psi.ToString("F3", CultureInfo.InvariantCulture) : "");
        }
        AnsiConsole.Write(table);
        if (r.UnseenColumns.Count > 0) AnsiConsole.MarkupLine($"Columns the model does not know: {Esc(string.Join(", ", r.UnseenColumns))}");
    }

    /// <summary><c>amount=psi:0.2</c>: a column, a method and its threshold.</summary>
    private static (string Column, DriftRule Rule) ParseRule(string text)
    {
        var at = text.LastIndexOf('=');
        var colon = text.LastIndexOf(':');
        if (at <= 0 || colon < at || !double.TryParse(text.AsSpan(colon + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var threshold))
            throw new ArgumentException($"--rule '{text}' must be COLUMN=METHOD:THRESHOLD, e.g. amount=psi:0.2");
        return (text[..at], new DriftRule(text[(at + 1)..colon], threshold));
    }
}
