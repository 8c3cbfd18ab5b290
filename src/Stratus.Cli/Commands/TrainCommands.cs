using System.CommandLine;
using Spectre.Console;
using Stratus.Client;
using static Stratus.Cli.GlobalOptions;

namespace Stratus.Cli.Commands;

/// <summary><c>stratus train</c> and <c>stratus jobs …</c></summary>
internal static class TrainCommands
{
    public static Command Train()
    {
        var dataset = new Option<string>("--dataset") { Description = "Dataset NAME or NAME:VERSION", Required = true };
        var target = new Option<string>("--target") { Description = "Column to predict", Required = true };
        var task = new Option<string?>("--task") { Description = "binary, multiclass or regression (default: inferred from the target)" };
        task.AcceptOnlyFromAmong("binary", "multiclass", "regression");
        var trainer = new Option<string?>("--trainer") { Description = "lightgbm (default), fasttree, fastforest, sdca or lbfgs" };
        trainer.AcceptOnlyFromAmong("lightgbm", "fasttree", "fastforest", "sdca", "lbfgs");
        var register = new Option<string?>("--register") { Description = "Register the model under this name" };
        var experiment = new Option<string?>("--experiment") { Description = "Experiment of the run (default: the dataset's name)" };
        var seed = new Option<int?>("--seed") { Description = "Seed for splits and trainers (default 42)" };
        var iterations = new Option<int?>("--iterations") { Description = "Trees or epochs (default 100)" };
        var folds = new Option<int?>("--folds") { Description = "Cross-validation folds (default: 5 below 20,000 rows, else a 20% holdout)" };
        var earlyStopping = new Option<int?>("--early-stopping") { Description = "LightGBM: stop when the validation loss has not improved for N iterations" };
        var exclude = new Option<string[]>("--exclude") { Description = "Columns to leave out (repeatable)", AllowMultipleArgumentsPerToken = true };
        var retries = new Option<int?>("--retries") { Description = "Extra attempts after a failure that is not the input's fault (default 1)" };
        var maxRunSeconds = new Option<int?>("--max-run-seconds") { Description = "Time limit; the job is cancelled past it (default 3600)" };
        var detach = new Option<bool>("--detach") { Description = "Print the queued job and return at once" };
        var command = new Command("train", "Train a model on a dataset as a job, following its progress") { dataset, target, task, trainer, register, experiment, seed, iterations, folds, earlyStopping, exclude, retries, maxRunSeconds, detach };
        command.SetAction(Remote(async (result, client, ct) =>
        {
            var request = new TrainRequest(result.GetValue(dataset)!, result.GetValue(target)!, result.GetValue(task), result.GetValue(trainer),
                result.GetValue(register), result.GetValue(experiment), result.GetValue(seed), result.GetValue(iterations), result.GetValue(folds),
                result.GetValue(exclude) is { Length: > 0 } e ? e : null, result.GetValue(maxRunSeconds), result.GetValue(retries), result.GetValue(earlyStopping));
            var job = await client.Jobs.TrainAsync(request, ct);
            var started = DateTime.UtcNow;
            await FollowAsync(result, client, job, result.GetValue(detach), _ => { }, () =>
                AnsiConsole.Status().StartAsync("Training…", async ctx => await client.Jobs.WaitAsync(job.Id, line =>
                {
                    AnsiConsole.MarkupLine($"[grey]{(DateTime.UtcNow - started).TotalSeconds,6:F1}s[/] {Esc(line.Line)}");
                    ctx.Status($"Training… {(DateTime.UtcNow - started).TotalSeconds:F0}s: {Esc(line.Line)}");
                }, ct: ct)), ct);
        }));
        return command;
    }

    /// <summary>
    /// Follows a queued training job (train or AutoML) to its end, then prints its result. <paramref name="interactive"/>
    /// draws the progress on a terminal; elsewhere the log lines are printed (not for --output json), each passed to
    /// <paramref name="observe"/>. With --detach the queued job is printed and the command returns.
    /// </summary>
    public static async Task FollowAsync(ParseResult result, StratusClient client, JobInfo job, bool detach, Action<JobLogLine> observe,
        Func<Task<JobInfo>> interactive, CancellationToken ct)
    {
        if (detach)
        {
            Print(result, job, StratusJsonContext.Default.JobInfo, j => AnsiConsole.MarkupLine($"Queued job [bold]{Esc(j.Id)}[/]; follow it with `stratus jobs show {Esc(j.Id)}`"));
            return;
        }
        var json = Json(result);
        var started = DateTime.UtcNow;
        var done = !json && AnsiConsole.Profile.Capabilities.Interactive
            ? await interactive()
            : await client.Jobs.WaitAsync(job.Id, line =>
            {
                observe(line);
                if (!json) Console.WriteLine($"{(DateTime.UtcNow - started).TotalSeconds,6:F1}s {line.Line}");
            }, ct: ct);
        if (done.Status != JobStatus.Succeeded || done.Result is null)
            throw new InvalidDataException($"job {done.Id} {done.Status.ToLowerInvariant()}: {done.Error}");
        await PrintResultAsync(result, client, done.Result, ct);
    }

    /// <summary>Prints what a training job produced: the JSON object for scripts, or tables and charts for people.</summary>
    public static async Task PrintResultAsync(ParseResult result, StratusClient client, TrainResultInfo info, CancellationToken ct)
    {
        // The learning curves are drawn from the run's per-iteration metrics.
        var curves = info.Iterations is null || Json(result) ? [] : await client.Runs.GetMetricsAsync(info.RunId, ct: ct);
        Print(result, info, StratusJsonContext.Default.TrainResultInfo, r =>
        {
            var table = NewTable("Metric", "Value");
            foreach (var (k, v) in r.Metrics) table.AddRow(Esc(k), v.ToString("F4", System.Globalization.CultureInfo.InvariantCulture));
            AnsiConsole.Write(table);
            if (r.ConfusionMatrix is { } confusion)
            {
                var matrix = NewTable(["actual \\ predicted", .. confusion.Labels.Select(Esc)]);
                for (var i = 0; i < confusion.Labels.Count; i++) matrix.AddRow([Esc(confusion.Labels[i]), .. confusion.Counts[i].Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
                AnsiConsole.Write(matrix);
            }
            var series = curves.Where(p => p.Step > 0).GroupBy(p => p.Key).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
            if (series.Count > 0)
            {
                var chart = NewTable("Learning curve", $"Iterations 1..{r.Iterations}");
                foreach (var s in series) chart.AddRow(Esc(s.Key), Esc(Sparkline([.. s.OrderBy(p => p.Step).Select(p => p.Value)])));
                AnsiConsole.Write(chart);
            }
            if (r.FeatureImportance is { Count: > 0 } importance)
            {
                var chart = new BarChart().Label("Permutation importance (metric drop when shuffled)").Width(60);
                foreach (var (k, v) in importance.Take(10)) chart.AddItem(Esc(k), Math.Max(0, Math.Round(v, 4)), Color.Blue);
                AnsiConsole.Write(chart);
            }
            if (r.Leaderboard is { Count: > 0 } leaderboard) AnsiConsole.Write(AutoMlCommand.Leaderboard(leaderboard, r.Metric ?? "score", r.Trials));
            AnsiConsole.MarkupLine($"run {Esc(r.RunId)} ({Esc(r.Task)}, {Esc(r.Trainer)}, {Esc(r.Validation)})" +
                (r.Model is { } m ? $"; registered [bold]{Esc(m.Name)}:{m.Version}[/]" : ""));
        });
    }

    public static Command Jobs()
    {
        var command = new Command("jobs", "List, inspect and cancel jobs");

        var status = new Option<string?>("--status") { Description = "Only jobs in this state" };
        status.AcceptOnlyFromAmong(JobStatus.Queued, JobStatus.Running, JobStatus.Succeeded, JobStatus.Failed, JobStatus.Cancelled);
        var list = new Command("list", "List jobs, newest first") { status };
        list.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Jobs.ListAsync(result.GetValue(status), ct: ct), StratusJsonContext.Default.PageJobInfo, p =>
            {
                var table = NewTable("Job", "Kind", "Status", "Created", "Run", "Error");
                foreach (var j in p.Items) table.AddRow(Esc(j.Id), Esc(j.Kind), Esc(j.Status), When(j.CreatedAt), Esc(j.RunId), Esc(j.Error));
                AnsiConsole.Write(table);
                PageHint(p.NextPageToken);
            })));
        command.Subcommands.Add(list);

        var id = new Argument<string>("job") { Description = "Job id" };
        var show = new Command("show", "Show a job with its log") { id };
        show.SetAction(Remote(async (result, client, ct) =>
        {
            var job = await client.Jobs.GetAsync(result.GetValue(id)!, ct);
            var log = await client.Jobs.LogAsync(job.Id, 0, ct);
            Print(result, job, StratusJsonContext.Default.JobInfo, j =>
            {
                AnsiConsole.MarkupLine($"[bold]{Esc(j.Id)}[/] {Esc(j.Kind)} {Esc(j.Status)} (attempt {j.Attempts}) {Esc(j.Error)}");
                foreach (var line in log) AnsiConsole.MarkupLine($"[grey]{When(line.Time)}[/] {Esc(line.Line)}");
            });
        }));
        command.Subcommands.Add(show);

        var cancel = new Command("cancel", "Cancel a queued or running job") { id };
        cancel.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Jobs.CancelAsync(result.GetValue(id)!, ct), StratusJsonContext.Default.JobInfo,
                j => AnsiConsole.MarkupLine($"Job {Esc(j.Id)}: {Esc(j.Status)}"))));
        command.Subcommands.Add(cancel);
        return command;
    }
}
