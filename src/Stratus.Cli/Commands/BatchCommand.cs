using System.CommandLine;
using System.Text.RegularExpressions;
using Spectre.Console;
using static Stratus.Cli.GlobalOptions;

namespace Stratus.Cli.Commands;

/// <summary><c>stratus batch …</c>: batch inference as a job.</summary>
internal static partial class BatchCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "MODEL:VERSION, MODEL@ALIAS or MODEL (latest)", Required = true };
        var dataset = new Option<string>("--dataset") { Description = "Dataset NAME or NAME:VERSION to score", Required = true };
        var output = new Option<string?>("--into") { Description = "Dataset that receives the scored rows as its next version (default: DATASET-predictions)" };
        var retries = new Option<int?>("--retries") { Description = "Extra attempts after a failure that is not the input's fault; each resumes from the chunks scored (default 1)" };
        var maxRunSeconds = new Option<int?>("--max-run-seconds") { Description = "Time limit; the job is cancelled past it (default 3600)" };
        var detach = new Option<bool>("--detach") { Description = "Print the queued job and return at once" };
        var command = new Command("batch", "Score a whole dataset version with a model as a job; the predictions become a new dataset version") { model, dataset, output, retries, maxRunSeconds, detach };
        command.SetAction(Remote(async (result, client, ct) =>
        {
            var job = await client.Jobs.BatchAsync(new BatchRequest(result.GetValue(model)!, result.GetValue(dataset)!, result.GetValue(output), result.GetValue(maxRunSeconds), result.GetValue(retries)), ct);
            if (result.GetValue(detach))
            {
                Print(result, job, StratusJsonContext.Default.JobInfo, j => AnsiConsole.MarkupLine($"Queued job [bold]{Esc(j.Id)}[/]; follow it with: stratus jobs show {Esc(j.Id)}"));
                return;
            }
            JobInfo done;
            if (!Json(result) && AnsiConsole.Profile.Capabilities.Interactive)
            {
                done = await AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                    .StartAsync(async ctx =>
                    {
                        var task = ctx.AddTask("Scoring", maxValue: 1);
                        return await client.Jobs.WaitAsync(job.Id, line =>
                        {
                            if (Scored().Match(line.Line) is { Success: true } m)
                            {
                                task.MaxValue = Math.Max(1, double.Parse(m.Groups[2].Value.Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture));
                                task.Value = double.Parse(m.Groups[1].Value.Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture);
                            }
                            else
                            {
                                AnsiConsole.MarkupLine($"[grey]{Esc(line.Line)}[/]");
                            }
                        }, ct: ct);
                    });
            }
            else
            {
                done = await client.Jobs.WaitAsync(job.Id, line =>
                {
                    if (!Json(result)) Console.WriteLine(line.Line);
                }, ct: ct);
            }
            if (done.Status != JobStatus.Succeeded || done.Batch is null)
                throw new InvalidDataException($"job {done.Id} {done.Status.ToLowerInvariant()}: {done.Error}");
            Print(result, done.Batch, StratusJsonContext.Default.BatchResultInfo, b => AnsiConsole.MarkupLine(
                $"Scored {b.Rows:N0} rows of {Esc(b.Dataset)} with {Esc(b.Model.Name)}:{b.Model.Version} into [bold]{Esc(b.Output)}[/] (added {Esc(string.Join(", ", b.Columns))}); run {Esc(b.RunId)}"));
        }));
        return command;
    }

    [GeneratedRegex(@"^scored ([\d,]+) of ([\d,]+) rows")]
    private static partial Regex Scored();
}
