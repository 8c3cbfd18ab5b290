using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using static Stratus.Cli.GlobalOptions;

namespace Stratus.Cli.Commands;

/// <summary><c>stratus monitor …</c>: drift of an endpoint's requests from its model's baseline.</summary>
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
        return command;
    }

    /// <summary>Labels from a CSV of request_id, label and optionally row; a label that reads as a number is sent as one.</summary>
    private static List<FeedbackItem> ReadLabels(FileInfo file)
    {
        if (!file.Exists) throw new ArgumentException($"--file: {file.FullName} does not exist");
        using var reader = file.OpenText();
        var header = (reader.ReadLine() ?? "").Split(',').Select(h => h.Trim()).ToList();
        var (id, label, row) = (header.IndexOf("request_id"), header.IndexOf("label"), header.IndexOf("row"));
        if (id < 0 || label < 0) throw new ArgumentException($"--file: {file.Name} needs the columns request_id and label; its header is '{string.Join(',', header)}'");
        var items = new List<FeedbackItem>();
        var line = 1;
        for (var text = reader.ReadLine(); text is not null; text = reader.ReadLine())
        {
            line++;
            if (text.Length == 0) continue;
            var cells = text.Split(',');
            if (cells.Length < header.Count) throw new ArgumentException($"--file: line {line} has {cells.Length} values for {header.Count} columns");
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

    private static string Status(string status) => status switch
    {
        "drift" => "[red]drift[/]",
        "ok" => "[green]ok[/]",
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
