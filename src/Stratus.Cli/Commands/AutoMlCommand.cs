using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;
using static Stratus.Cli.GlobalOptions;

namespace Stratus.Cli.Commands;

/// <summary><c>stratus automl</c>: the best model within a time budget, with a live progress bar and leaderboard.</summary>
internal static class AutoMlCommand
{
    public static Command Create()
    {
        var dataset = new Option<string>("--dataset") { Description = "Dataset NAME or NAME:VERSION", Required = true };
        var target = new Option<string>("--target") { Description = "Column to predict", Required = true };
        var budget = new Option<string>("--budget") { Description = "Time for the whole search: 90s, 5m, 1h or seconds (default 60s)", DefaultValueFactory = _ => "60s" };
        var task = new Option<string?>("--task") { Description = "binary, multiclass or regression (default: inferred from the target)" };
        task.AcceptOnlyFromAmong("binary", "multiclass", "regression");
        var metric = new Option<string?>("--metric") { Description = string.Join("; ", new[] { "binary", "multiclass", "regression" }.Select(t => $"{string.Join(", ", MetricCatalog.For(t))} ({t})")) + $". Default: {MetricCatalog.SearchDefault("binary")}, {MetricCatalog.SearchDefault("multiclass")}, {MetricCatalog.SearchDefault("regression")}" };
        var register = new Option<string?>("--register") { Description = "Register the best model under this name" };
        var experiment = new Option<string?>("--experiment") { Description = "Experiment of the runs (default: the dataset's name)" };
        var seed = new Option<int?>("--seed") { Description = "Seed for splits, trainers and the search (default 42)" };
        var folds = new Option<int?>("--folds") { Description = "Cross-validation folds (default: a 20% holdout from 20,000 rows; below, 5 folds, or 3 when the budget is short for the data)" };
        var exclude = new Option<string[]>("--exclude") { Description = "Columns to leave out (repeatable)", AllowMultipleArgumentsPerToken = true };
        var parallel = new Option<int?>("--parallel") { Description = "Trials at a time, at most; each takes a worker slot (default: the slots free when it starts)" };
        var detach = new Option<bool>("--detach") { Description = "Print the queued job and return at once" };
        var command = new Command("automl", "Search trainers and hyperparameters for the best model within a time budget")
            { dataset, target, budget, task, metric, register, experiment, seed, folds, exclude, parallel, detach };
        command.SetAction(Remote(async (result, client, ct) =>
        {
            var seconds = Seconds(result.GetValue(budget)!);
            var request = new AutoMlRequest(result.GetValue(dataset)!, result.GetValue(target)!, seconds, result.GetValue(task), result.GetValue(metric),
                result.GetValue(register), result.GetValue(experiment), result.GetValue(seed), result.GetValue(folds),
                result.GetValue(exclude) is { Length: > 0 } e ? e : null, result.GetValue(parallel));
            var job = await client.Jobs.AutoMlAsync(request, ct);
            var started = DateTime.UtcNow;
            var trials = new List<TrialInfo>();
            var metricName = "score";
            void Track(JobLogLine line)
            {
                if (TrialLog.TryParse(line.Line, out var trial, out var m))
                {
                    metricName = m;
                    trials.Add(trial);
                }
            }
            // On a terminal: a progress bar over the budget and the top five so far, redrawn as trials end.
            await TrainCommands.FollowAsync(result, client, job, result.GetValue(detach), Track, () =>
                AnsiConsole.Live(View(0, seconds, trials, metricName, "starting")).StartAsync(async ctx =>
                {
                    using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
                    var status = "starting";
                    var waiting = client.Jobs.WaitAsync(job.Id, line =>
                    {
                        Track(line);
                        status = line.Line;
                    }, ct: ct);
                    while (!waiting.IsCompleted)
                    {
                        ctx.UpdateTarget(View((DateTime.UtcNow - started).TotalSeconds, seconds, trials, metricName, status));
                        await Task.WhenAny(waiting, timer.WaitForNextTickAsync(ct).AsTask());
                    }
                    ctx.UpdateTarget(View((DateTime.UtcNow - started).TotalSeconds, seconds, trials, metricName, status));
                    return await waiting;
                }), ct);
        }));
        return command;
    }

    /// <summary>The top trials as a table, best first.</summary>
    public static Table Leaderboard(IEnumerable<TrialInfo> trials, string metric, int? total = null)
    {
        var table = NewTable("#", "Trial", "Trainer", metric, "Seconds");
        table.Title = new TableTitle(total is { } n ? $"Leaderboard (top 5 of {n} trials)" : "Leaderboard");
        var rank = 0;
        foreach (var t in trials.Take(5))
        {
            table.AddRow((++rank).ToString(CultureInfo.InvariantCulture), t.Number.ToString(CultureInfo.InvariantCulture), Esc(t.Trainer),
                t.Score?.ToString("F4", CultureInfo.InvariantCulture) ?? "-", t.Seconds.ToString("F1", CultureInfo.InvariantCulture));
        }
        return table;
    }

    private static IRenderable View(double elapsed, int budget, List<TrialInfo> trials, string metric, string status)
    {
        const int width = 40;
        var done = (int)Math.Round(Math.Clamp(elapsed / budget, 0, 1) * width);
        var bar = new Markup($"[green]{new string('━', done)}[/][grey]{new string('━', width - done)}[/] {elapsed,5:F0}/{budget} s, {trials.Count} trials");
        return new Rows(bar, Leaderboard(TrialLog.Rank(trials, metric), metric), new Markup($"[grey]{Esc(status)}[/]"));
    }

    /// <summary>A duration such as <c>90s</c>, <c>5m</c>, <c>1h</c>, <c>7d</c> or <c>120</c>, in seconds.</summary>
    internal static int Seconds(string text, string option = "--budget")
    {
        var t = text.Trim().ToLowerInvariant();
        var unit = t.Length > 0 && char.IsLetter(t[^1]) ? t[^1] : 's';
        var number = char.IsLetter(t[^1]) ? t[..^1] : t;
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value <= 0 || unit is not ('s' or 'm' or 'h' or 'd'))
            throw new ArgumentException($"{option}: '{text}' is not a duration such as 90s, 5m or 1h");
        return (int)Math.Round(value * unit switch { 'd' => 86_400, 'h' => 3600, 'm' => 60, _ => 1 });
    }
}
