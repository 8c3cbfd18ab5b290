using System.CommandLine;
using Spectre.Console;
using static Stratus.Cli.GlobalOptions;

namespace Stratus.Cli.Commands;

/// <summary><c>stratus datasets …</c></summary>
internal static class DatasetCommands
{
    public static Command Create()
    {
        var command = new Command("datasets", "Upload, version, inspect, download and delete datasets");
        command.Subcommands.Add(Upload());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Download());
        command.Subcommands.Add(Delete());
        return command;
    }

    private static Command Upload()
    {
        var file = new Argument<FileInfo>("file") { Description = "A CSV (with a header line) or Parquet file" };
        var name = new Option<string>("--name") { Description = "Dataset name", Required = true };
        var format = new Option<string?>("--format") { Description = "csv or parquet (default: from the file's extension)" };
        var delimiter = new Option<string?>("--delimiter") { Description = "CSV field separator: one character, or 'tab' (default ',')" };
        format.AcceptOnlyFromAmong("csv", "parquet");
        var command = new Command("upload", "Upload a file as a new dataset version (the same bytes return the existing version)") { file, name, format, delimiter };
        command.SetAction(Remote(async (result, client, ct) =>
        {
            var path = result.GetValue(file)!;
            if (!path.Exists) throw new IOException($"file '{path.FullName}' does not exist");
            var sep = result.GetValue(delimiter) switch
            {
                null => ',',
                "tab" or "\\t" => '\t',
                { Length: 1 } d => d[0],
                var d => throw new ArgumentException($"--delimiter '{d}' must be one character or 'tab'"),
            };
            DatasetVersionInfo version;
            if (!Json(result) && AnsiConsole.Profile.Capabilities.Interactive)
            {
                version = await AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                    .StartAsync(async ctx =>
                    {
                        var task = ctx.AddTask($"Uploading {Esc(path.Name)}", maxValue: Math.Max(1, path.Length));
                        var progress = new Progress<long>(sent => task.Value = sent);
                        var v = await client.Datasets.UploadAsync(result.GetValue(name)!, path.FullName, result.GetValue(format), sep, progress, ct);
                        task.Value = task.MaxValue;
                        return v;
                    });
            }
            else
            {
                version = await client.Datasets.UploadAsync(result.GetValue(name)!, path.FullName, result.GetValue(format), sep, null, ct);
            }
            Print(result, version, StratusJsonContext.Default.DatasetVersionInfo, PrintVersion);
        }));
        return command;
    }

    private static Command List()
    {
        var pageToken = new Option<string?>("--page-token") { Description = "Token from the previous page" };
        var command = new Command("list", "List datasets") { pageToken };
        command.SetAction(Remote(async (result, client, ct) =>
        {
            var page = await client.Datasets.ListAsync(null, result.GetValue(pageToken), ct);
            Print(result, page, StratusJsonContext.Default.PageDatasetInfo, p =>
            {
                var table = NewTable("Name", "Latest", "Versions", "Created", "Description");
                foreach (var d in p.Items) table.AddRow(Esc(d.Name), Esc(d.LatestVersion), Esc(d.VersionCount), When(d.CreatedAt), Esc(d.Description));
                AnsiConsole.Write(table);
                PageHint(p.NextPageToken);
            });
        }));
        return command;
    }

    private static Command Show()
    {
        var reference = new Argument<string>("dataset") { Description = "NAME (latest version) or NAME:VERSION" };
        var profile = new Option<bool>("--profile") { Description = "Also show the column profile" };
        var command = new Command("show", "Show a dataset version: schema, rows, hash; --profile adds column statistics") { reference, profile };
        command.SetAction(Remote(async (result, client, ct) =>
        {
            var r = result.GetValue(reference)!;
            if (result.GetValue(profile))
            {
                var columns = await client.Datasets.GetProfileAsync(r, ct);
                Print(result, columns, StratusJsonContext.Default.IReadOnlyListColumnProfile, PrintProfile);
                return;
            }
            Print(result, await client.Datasets.GetAsync(r, ct), StratusJsonContext.Default.DatasetVersionInfo, PrintVersion);
        }));
        return command;
    }

    private static Command Download()
    {
        var reference = new Argument<string>("dataset") { Description = "NAME (latest version) or NAME:VERSION" };
        var output = new Option<string>("--out") { Description = "File to write", Required = true };
        var format = new Option<string>("--format") { Description = "parquet or csv", DefaultValueFactory = _ => "parquet" };
        format.AcceptOnlyFromAmong("parquet", "csv");
        var command = new Command("download", "Download a dataset version (checked against its SHA-256; nothing is left behind on failure)") { reference, output, format };
        command.SetAction(Remote(async (result, client, ct) =>
        {
            var sha = await client.Datasets.DownloadAsync(result.GetValue(reference)!, result.GetValue(output)!, result.GetValue(format)!, null, ct);
            var info = new Dictionary<string, string> { ["file"] = Path.GetFullPath(result.GetValue(output)!), ["sha256"] = sha ?? "" };
            Print(result, info, StratusJsonContext.Default.DictionaryStringString, i => AnsiConsole.MarkupLine($"Wrote {Esc(i["file"])} (sha256 {Esc(i["sha256"])})"));
        }));
        return command;
    }

    private static Command Delete()
    {
        var reference = new Argument<string>("dataset") { Description = "NAME:VERSION for one version, NAME for the whole dataset" };
        var command = new Command("delete", "Soft-delete a dataset version or a whole dataset; storage is reclaimed when nothing references it") { reference };
        command.SetAction(Remote(async (result, client, ct) =>
        {
            var r = result.GetValue(reference)!;
            await client.Datasets.DeleteAsync(r, ct);
            var info = new Dictionary<string, string> { ["deleted"] = r };
            Print(result, info, StratusJsonContext.Default.DictionaryStringString, _ => AnsiConsole.MarkupLine($"Deleted {Esc(r)}"));
        }));
        return command;
    }

    private static void PrintVersion(DatasetVersionInfo v)
    {
        AnsiConsole.MarkupLine($"[bold]{Esc(v.Name)}:{v.Version}[/]{(v.Created ? " [green](new version)[/]" : "")}  {v.Rows:N0} rows, {v.Columns.Count} columns, {v.SizeBytes:N0} bytes as Parquet");
        AnsiConsole.MarkupLine($"sha256 {Esc(v.Sha256)}  created {When(v.CreatedAt)} by {Esc(v.CreatedBy)}");
        var table = NewTable("Column", "Type", "Nullable");
        foreach (var c in v.Columns) table.AddRow(Esc(c.Name), Esc(c.Type), c.Nullable ? "yes" : "");
        AnsiConsole.Write(table);
    }

    private static void PrintProfile(IReadOnlyList<ColumnProfile> columns)
    {
        var table = NewTable("Column", "Type", "Count", "Missing", "Distinct", "Min", "Mean", "Max", "Std", "Top values");
        foreach (var c in columns)
        {
            table.AddRow(Esc(c.Name), Esc(c.Type), Esc(c.Count), Esc(c.Missing), Esc(c.Distinct), Num(c.Min), Num(c.Mean), Num(c.Max), Num(c.Std),
                Esc(c.TopValues is null ? "" : string.Join(", ", c.TopValues.Take(3).Select(t => $"{t.Value} ({t.Count})"))));
        }
        AnsiConsole.Write(table);
    }

    private static string Num(double? value) => value?.ToString("G6", System.Globalization.CultureInfo.InvariantCulture) ?? "";
}
