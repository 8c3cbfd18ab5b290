using System.CommandLine;
using Spectre.Console;
using static Stratus.Cli.GlobalOptions;

namespace Stratus.Cli.Commands;

/// <summary><c>stratus experiments …</c> and <c>stratus runs …</c></summary>
internal static class TrackingCommands
{
    public static Command Experiments()
    {
        var command = new Command("experiments", "Create and list experiments");

        var name = new Argument<string>("name") { Description = "Experiment name" };
        var description = new Option<string?>("--description") { Description = "What the experiment is about" };
        var create = new Command("create", "Create an experiment") { name, description };
        create.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Experiments.CreateAsync(new CreateExperimentRequest(result.GetValue(name)!, result.GetValue(description)), ct),
                StratusJsonContext.Default.ExperimentInfo, e => AnsiConsole.MarkupLine($"Created experiment [bold]{Esc(e.Name)}[/] (id {e.Id})"))));
        command.Subcommands.Add(create);

        var pageToken = new Option<string?>("--page-token") { Description = "Token from the previous page" };
        var list = new Command("list", "List experiments") { pageToken };
        list.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Experiments.ListAsync(null, result.GetValue(pageToken), ct), StratusJsonContext.Default.PageExperimentInfo, p =>
            {
                var table = NewTable("Id", "Name", "Created", "Description");
                foreach (var e in p.Items) table.AddRow(Esc(e.Id), Esc(e.Name), When(e.CreatedAt), Esc(e.Description));
                AnsiConsole.Write(table);
                PageHint(p.NextPageToken);
            })));
        command.Subcommands.Add(list);

        var idOrName = new Argument<string>("experiment") { Description = "Id or name" };
        var show = new Command("show", "Show an experiment") { idOrName };
        show.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Experiments.GetAsync(result.GetValue(idOrName)!, ct), StratusJsonContext.Default.ExperimentInfo,
                e => AnsiConsole.MarkupLine($"[bold]{Esc(e.Name)}[/] (id {e.Id}) created {When(e.CreatedAt)}  {Esc(e.Description)}  {Esc(Dict(e.Tags))}"))));
        command.Subcommands.Add(show);
        return command;
    }

    public static Command Runs()
    {
        var command = new Command("runs", "Inspect tracked runs");

        var experiment = new Option<string?>("--experiment") { Description = "Only runs of this experiment (id or name)" };
        var status = new Option<string?>("--status") { Description = "Only runs in this state" };
        status.AcceptOnlyFromAmong([.. RunStatus.All]);
        var pageToken = new Option<string?>("--page-token") { Description = "Token from the previous page" };
        var list = new Command("list", "List runs, newest first") { experiment, status, pageToken };
        list.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Runs.ListAsync(result.GetValue(experiment), result.GetValue(status), null, result.GetValue(pageToken), ct), StratusJsonContext.Default.PageRunInfo, p =>
            {
                var table = NewTable("Run", "Experiment", "Name", "Status", "Started", "Metrics");
                foreach (var r in p.Items)
                {
                    table.AddRow(Esc(r.Id), Esc(r.ExperimentName), Esc(r.Name), StatusMarkup(r.Status), When(r.StartTime),
                        Esc(string.Join(", ", r.LatestMetrics.Select(m => $"{m.Key}={m.Value:G4}"))));
                }
                AnsiConsole.Write(table);
                PageHint(p.NextPageToken);
            })));
        command.Subcommands.Add(list);

        var id = new Argument<string>("run") { Description = "Run id" };
        var show = new Command("show", "Show a run: params, tags, latest metrics, inputs, artifacts") { id };
        show.SetAction(Remote(async (result, client, ct) =>
        {
            var run = await client.Runs.GetAsync(result.GetValue(id)!, ct);
            Print(result, run, StratusJsonContext.Default.RunInfo, r =>
            {
                AnsiConsole.MarkupLine($"[bold]{Esc(r.Id)}[/] {Esc(r.Name)} in {Esc(r.ExperimentName)}: {StatusMarkup(r.Status)} {Esc(r.FailureReason)}");
                AnsiConsole.MarkupLine($"started {When(r.StartTime)}, ended {When(r.EndTime)}, last heartbeat {When(r.HeartbeatAt)}");
                var table = NewTable("Kind", "Key", "Value");
                foreach (var (k, v) in r.Params) table.AddRow("param", Esc(k), Esc(v));
                foreach (var (k, v) in r.Tags) table.AddRow("tag", Esc(k), Esc(v));
                foreach (var (k, v) in r.LatestMetrics) table.AddRow("metric", Esc(k), Esc(v));
                foreach (var i in r.Inputs) table.AddRow("input", Esc($"{i.Dataset}:{i.Version}"), Esc(i.Sha256));
                AnsiConsole.Write(table);
            });
        }));
        command.Subcommands.Add(show);

        var key = new Option<string?>("--key") { Description = "Only this metric" };
        var metrics = new Command("metrics", "Metric history of a run") { id, key };
        metrics.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Runs.GetMetricsAsync(result.GetValue(id)!, result.GetValue(key), ct), StratusJsonContext.Default.IReadOnlyListMetricPoint, points =>
            {
                // Series logged step by step (learning curves) are drawn; single values are listed.
                var series = points.GroupBy(p => p.Key).Where(g => g.Count() > 1).ToList();
                var table = NewTable("Key", "Step", "Value", "Time");
                foreach (var p in points.Where(p => !series.Any(s => s.Key == p.Key)))
                    table.AddRow(Esc(p.Key), Esc(p.Step), Esc(p.Value), When(p.Timestamp is { } t ? DateTimeOffset.FromUnixTimeMilliseconds(t) : null));
                if (table.Rows.Count > 0) AnsiConsole.Write(table);
                if (series.Count > 0)
                {
                    var curves = NewTable("Series", "Steps", "Curve (first → last)");
                    foreach (var s in series)
                    {
                        var ordered = s.OrderBy(p => p.Step).ToList();
                        curves.AddRow(Esc(s.Key), $"{ordered[0].Step}..{ordered[^1].Step}", Esc(Sparkline([.. ordered.Select(p => p.Value)])));
                    }
                    AnsiConsole.Write(curves);
                }
            })));
        command.Subcommands.Add(metrics);

        var artifacts = new Command("artifacts", "List a run's artifacts") { id };
        artifacts.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Runs.ListArtifactsAsync(result.GetValue(id)!, ct), StratusJsonContext.Default.IReadOnlyListArtifactInfo, list =>
            {
                var table = NewTable("Path", "Bytes", "SHA-256");
                foreach (var a in list) table.AddRow(Esc(a.Path), Esc(a.SizeBytes), Esc(a.Sha256));
                AnsiConsole.Write(table);
            })));
        command.Subcommands.Add(artifacts);
        return command;
    }

    private static string StatusMarkup(string status) => status switch
    {
        RunStatus.Finished => "[green]FINISHED[/]",
        RunStatus.Failed => "[red]FAILED[/]",
        RunStatus.Killed => "[yellow]KILLED[/]",
        _ => "[blue]RUNNING[/]",
    };
}
